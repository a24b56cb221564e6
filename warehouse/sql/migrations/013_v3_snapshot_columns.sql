-- 013: methodology v3's own snapshot columns (all nullable: v1, v2 and analyst rows leave them
-- null). Codes, dates and numbers only: v3's note renders its words from them. Probabilities and
-- '_pct' / '_recovered' are fractions (0.2 = 20 %), dates CME trade dates, prices front-contract
-- points.

alter table snapshots add column upper_basis varchar;  -- level (v2's level kept) | structure (the nearest tested structure within the limit) | limit (projected at the limit)
alter table snapshots add column lower_basis varchar;  -- the same for the lower barrier
alter table snapshots add column upper_structure varchar;  -- swing_high | recent_high | sma50 | sma200 when upper_basis is structure
alter table snapshots add column lower_structure varchar;  -- swing_low | recent_low | sma50 | sma200 when lower_basis is structure
alter table snapshots add column bull_target_low double;  -- the bull scenario's target zone
alter table snapshots add column bull_target_high double;
alter table snapshots add column bull_target_basis varchar;  -- level (v2's extension or deeper level) | projected (1 ATR beyond the trigger)
alter table snapshots add column bear_target_low double;
alter table snapshots add column bear_target_high double;
alter table snapshots add column bear_target_basis varchar;
alter table snapshots add column model_p_bear double;  -- the probability model's bear probability before the limit on moves
alter table snapshots add column model_p_sideways double;
alter table snapshots add column model_p_bull double;
alter table snapshots add column probability_cause varchar;  -- the causes that allowed a larger move this session, joined by +: regime | level | barrier | volatility | price (null: none)
alter table snapshots add column likeliest varchar;  -- bear | sideways | bull | tie (top two within 2 points)
alter table snapshots add column thesis varchar;  -- continuation | pause | reversal | range | break_up | break_down | tie
alter table snapshots add column label_conflict varchar;  -- above_both_averages (Bearish label) | below_both_averages (Bullish label) | null
alter table snapshots add column drawdown_pct double;  -- 1 - close / highest high of the last 252 sessions
alter table snapshots add column drawdown_recovered double;  -- (close - trough) / (peak - trough), trough the lowest low since the peak
alter table snapshots add column drawdown_peak_date date;
alter table snapshots add column drawdown_trough_date date;
