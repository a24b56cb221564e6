-- 02 Calibration of the model's bull scenario: forecast probability vs how often it happened.
--
-- Question: when the model (author 'callbook') gave the bull scenario a probability in a given
--   tenth (0.0-0.1, ..., 0.9-1.0), how often did the bull scenario actually resolve? One kind at
--   a time (live, backfill), per root, methodology version and source (demo bars are never
--   pooled with market bars), for calls made since a date.
-- Parameters:
--   $since  first as_of included, YYYY-MM-DD (the standard study starts at 2015-01-01)
--   $kind   live | backfill (kinds are never mixed in a score)
-- Returns: one row per (root, methodology_version, source, bucket) that has calls.
--   bucket_low, bucket_high  forecast bucket [low, high), fractions (the last one includes 1.0)
--   calls                    resolved calls in the bucket (overlapping horizons: the effective
--                            sample is about calls / 20)
--   mean_forecast            mean p_bull in the bucket, fraction 0..1
--   observed_frequency       share of those calls that resolved bull, fraction 0..1
--   gap                      observed_frequency - mean_forecast (> 0: the model was too cautious)
--   first_as_of, last_as_of  CME trade dates of the calls in the bucket
-- Example:
--   callbook sql @warehouse/queries/02_bull_calibration.sql --param since=2015-01-01 --param kind=backfill

with settings as (
    select
        'callbook' as model_author,
        10 as buckets  -- tenths
),

selection as (
    select $since::date as since, lower($kind) as kind
),

scored as (
    select * from calls_vs_outcomes
),

model_calls as (
    select
        scored.root, scored.methodology_version, scored.source, scored.as_of,
        scored.p_bull as forecast,
        (scored.outcome = 'bull')::int as hit
    from scored, settings, selection
    where scored.author = settings.model_author
      and scored.kind = selection.kind
      and scored.as_of >= selection.since
),

bucketed as (
    select
        model_calls.*,
        settings.buckets,
        least(floor(forecast * settings.buckets), settings.buckets - 1)::int as bucket
    from model_calls, settings
),

final as (
    select
        root, methodology_version, source,
        bucket / buckets as bucket_low,
        (bucket + 1) / buckets as bucket_high,
        count(*) as calls,
        avg(forecast) as mean_forecast,
        avg(hit) as observed_frequency,
        avg(hit) - avg(forecast) as gap,
        min(as_of) as first_as_of,
        max(as_of) as last_as_of
    from bucketed
    group by root, methodology_version, source, bucket, buckets
)

select * from final
order by root, methodology_version, source, bucket_low
