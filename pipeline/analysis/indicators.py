"""Indicator kernels: small pure polars expression builders, equal to TA-Lib.

Every builder takes column names or expressions and returns a ``pl.Expr``; nothing is computed until
the expression runs inside ``select`` / ``with_columns`` (eager or lazy), so the analysis engine can
put all of them in one query. Results are Float64 and named after the kernel and its window
(``sma_200``, ``atr_14``, ``true_range``, ``change_21``...); alias them for anything else.

Rows must be one instrument sorted by session date ascending; for several instruments in one frame
use ``.over("symbol")``. Windows and lookbacks count rows (sessions), not calendar days.

Causality: every kernel is causal, the value at row i depends on rows <= i only. They are built
from trailing rolling windows, shifts by positive lags, cumulative counts, prefix sums (the mean of
the first n values that seeds a smoother) and forward recursions; never from centred windows,
negative shifts or statistics of the whole column. This is what makes the product's no-look-ahead
guarantee hold: an indicator for session D is the same whether or not sessions after D are in the
frame (the tests check it on every kernel).

TA-Lib: ``sma``, ``ema``, ``true_range``, ``wilder_atr``, ``wilder_rsi``, ``plus_di``,
``minus_di``, ``adx``, ``change``, ``rolling_high`` and ``rolling_low`` equal ``talib.SMA``,
``EMA``, ``TRANGE``, ``ATR``, ``RSI``, ``PLUS_DI``, ``MINUS_DI``, ``ADX``, ``MOM``, ``MAX`` and
``MIN`` (TA-Lib defaults: unstable period 0, default compatibility) to a relative 1e-9 after the
warm-up, and are null exactly where TA-Lib returns NaN.

Nulls and NaN:

- Leading nulls (e.g. the warm-up of another indicator fed in as input) are skipped: the warm-up
  starts at the first non-null value, as in the TA-Lib Python wrapper.
- A null inside the series is a missing value. Windowed kernels (``sma``, ``rolling_*``,
  ``change``) are null for every window that contains it (unless ``min_samples`` allows fewer
  values); recursive kernels (``ema`` and the Wilder smoothers) are null on that row and carry
  their state over it, as if the row were absent, so one missing bar does not end the series.
- NaN is a value, not a missing one: it propagates as IEEE arithmetic does (into every window that
  contains it, and into every later row of a recursive kernel). Use ``fill_nan(None)`` first if
  NaN means "missing" in your data.

Implementation note: a value used twice is bound once as a struct field (``pl.struct(...)`` then
``struct.with_fields`` reading ``pl.field``). Polars' common-subexpression elimination does not
reach into nested expressions, so repeating an expression inside another one would compute it again
on every use, and the nesting of ADX would multiply that by dozens.
"""

from __future__ import annotations

import polars as pl

#: A column name or any polars expression.
IntoExpr = pl.Expr | str

#: RSI, DI and ADX are percentages.
PERCENT = 100.0
#: Wilder's default window (ATR, RSI, ADX), in sessions.
WILDER_WINDOW = 14
#: RSI, DI and ADX compare two smoothed quantities and need a window of at least two rows.
MIN_DIRECTIONAL_WINDOW = 2


def sma(values: IntoExpr, window: int, *, min_samples: int | None = None) -> pl.Expr:
    """Simple moving average: the mean of the last ``window`` rows, the current one included.

    Units: those of ``values``. Warm-up: the first ``window - 1`` rows are null (the first
    ``min_samples - 1`` rows when ``min_samples`` is given). A window holding a null is null
    unless it still has ``min_samples`` non-null values. Equals ``talib.SMA``.

    >>> df = pl.DataFrame({"close": [1.0, 2.0, 3.0, 4.0, 6.0]})
    >>> df.select(sma("close", 3)).to_series().to_list()
    [None, None, 2.0, 3.0, 4.333333333333333]
    >>> df.select(sma("close", 3, min_samples=2)).to_series().to_list()
    [None, 1.5, 2.0, 3.0, 4.333333333333333]
    """
    _check_window("sma", window)
    required = _min_samples("sma", window, min_samples)
    return _as_float(values).rolling_mean(window, min_samples=required).alias(f"sma_{window}")


def ema(values: IntoExpr, window: int) -> pl.Expr:
    """Exponential moving average, TA-Lib style: smoothing factor ``2 / (window + 1)``.

    The first value (row ``window - 1``) is the simple mean of the first ``window`` values; after
    it ``ema = previous + alpha * (value - previous)``. Units: those of ``values``. Warm-up: the
    first ``window - 1`` non-null rows are null. Equals ``talib.EMA``.

    Example with window 3 (alpha 0.5): the seed is (2 + 4 + 6) / 3 = 4, then 4 + 0.5 * (10 - 4) = 7,
    then 7 + 0.5 * (2 - 7) = 4.5.

    >>> df = pl.DataFrame({"close": [2.0, 4.0, 6.0, 10.0, 2.0]})
    >>> df.select(ema("close", 3)).to_series().to_list()
    [None, None, 4.0, 7.0, 4.5]
    """
    _check_window("ema", window)
    smoothing = 2.0 / (window + 1)
    return _seeded_ewm(_as_float(values), alpha=smoothing, seed_count=window).alias(f"ema_{window}")


def true_range(high: IntoExpr, low: IntoExpr, close: IntoExpr) -> pl.Expr:
    """Wilder's true range: ``max(high - low, |high - previous close|, |low - previous close|)``.

    The range of the bar extended to the previous settlement, so an overnight gap counts. Units:
    price points. Warm-up: row 0 is null (there is no previous close). Null if the row's high or
    low or the previous row's close is null. Equals ``talib.TRANGE``.

    Row 2 gaps up from a close of 11: its own range is 15 - 13 = 2, the true range 15 - 11 = 4.

    >>> df = pl.DataFrame({"high": [10.0, 12.0, 15.0], "low": [8.0, 9.0, 13.0],
    ...                    "close": [9.0, 11.0, 14.0]})
    >>> df.select(true_range("high", "low", "close")).to_series().to_list()
    [None, 3.0, 4.0]
    """
    high_, low_, previous_close = pl.field("high"), pl.field("low"), pl.field("previous_close")
    widest = pl.max_horizontal(
        high_ - low_, (high_ - previous_close).abs(), (low_ - previous_close).abs()
    )
    # max_horizontal skips nulls; a true range with a missing input must be missing, not smaller.
    complete = high_.is_not_null() & low_.is_not_null() & previous_close.is_not_null()
    return (
        pl.struct(
            high=_as_float(high), low=_as_float(low), previous_close=_as_float(close).shift(1)
        )
        .struct.with_fields(true_range=pl.when(complete).then(widest))
        .struct.field("true_range")
    )


def wilder_atr(
    high: IntoExpr, low: IntoExpr, close: IntoExpr, *, window: int = WILDER_WINDOW
) -> pl.Expr:
    """Average true range with Wilder's smoothing (alpha ``1 / window``).

    The first value (row ``window``) is the mean of the true ranges of rows 1..window; after it
    ``atr = (previous * (window - 1) + true_range) / window``. Units: price points. Warm-up: rows
    0..window-1 are null. Rows whose true range is null are null and skipped by the recursion.
    Equals ``talib.ATR``.

    Example with window 2, true ranges [-, 3, 4, 2, 6]: (3 + 4) / 2 = 3.5, (3.5 + 2) / 2 = 2.75,
    (2.75 + 6) / 2 = 4.375.

    >>> df = pl.DataFrame({"high": [11.0, 13.0, 14.0, 12.0, 17.0],
    ...                    "low": [9.0, 10.0, 10.0, 10.0, 13.0],
    ...                    "close": [10.0, 12.0, 11.0, 11.0, 16.0]})
    >>> df.select(wilder_atr("high", "low", "close", window=2)).to_series().to_list()
    [None, None, 3.5, 2.75, 4.375]
    """
    _check_window("wilder_atr", window)
    ranges = true_range(high, low, close)
    return _seeded_ewm(ranges, alpha=1.0 / window, seed_count=window).alias(f"atr_{window}")


def wilder_rsi(close: IntoExpr, *, window: int = WILDER_WINDOW) -> pl.Expr:
    """Relative strength index with Wilder's smoothing: ``100 * gain / (gain + loss)``.

    ``gain`` and ``loss`` are the Wilder-smoothed (alpha ``1 / window``) up and down moves of the
    close, each seeded with the mean of the first ``window`` moves. Units: 0..100. Warm-up: rows
    0..window-1 are null (the first move is at row 1). A series that has not moved at all since
    its first value has gain + loss = 0 and RSI 0, TA-Lib's convention (TA-Lib also treats a sum
    below a small tolerance as zero; here only an exact zero is). Equals ``talib.RSI``.

    Example with window 2, closes 10, 12, 11, 14, 13 (moves +2, -1, +3, -1): gain/loss start at
    1 / 0.5 (RSI 66.67), then 2 / 0.25 (88.89), then 1 / 0.625 (61.54).

    >>> df = pl.DataFrame({"close": [10.0, 12.0, 11.0, 14.0, 13.0]})
    >>> [None if v is None else round(v, 4)
    ...  for v in df.select(wilder_rsi("close", window=2)).to_series()]
    [None, None, 66.6667, 88.8889, 61.5385]
    """
    _check_window("wilder_rsi", window, minimum=MIN_DIRECTIONAL_WINDOW)
    move, gain, loss = pl.field("move"), pl.field("gain"), pl.field("loss")
    alpha = 1.0 / window
    return (
        pl.struct(move=_as_float(close).diff())
        .struct.with_fields(
            gain=_seeded_ewm(move.clip(lower_bound=0.0), alpha=alpha, seed_count=window),
            loss=_seeded_ewm((-move).clip(lower_bound=0.0), alpha=alpha, seed_count=window),
        )
        .struct.with_fields(rsi=_percent_of(gain, gain + loss))
        .struct.field("rsi")
        .alias(f"rsi_{window}")
    )


def plus_di(
    high: IntoExpr, low: IntoExpr, close: IntoExpr, *, window: int = WILDER_WINDOW
) -> pl.Expr:
    """Plus directional indicator: ``100 * smoothed +DM / smoothed true range``.

    ``+DM`` is the rise of the high when it beats the fall of the low (else 0). Units: 0..100
    for bars with low <= close <= high. Warm-up: rows 0..window-1 are null. See ``adx`` for the
    smoothing. Equals ``talib.PLUS_DI``.

    >>> df = pl.DataFrame({"high": [10.0, 12.0, 11.0, 13.0, 14.0, 13.0],
    ...                    "low": [8.0, 9.0, 7.0, 8.0, 10.0, 9.0],
    ...                    "close": [9.0, 11.0, 8.0, 12.0, 13.0, 10.0]})
    >>> [None if v is None else round(v, 4)
    ...  for v in df.select(plus_di("high", "low", "close", window=2)).to_series()]
    [None, None, 18.1818, 32.2581, 28.5714, 14.1732]
    """
    _check_window("plus_di", window, minimum=MIN_DIRECTIONAL_WINDOW)
    rise = _directional_movement(high, low).clip(lower_bound=0.0)
    di = _directional_indicator(rise, true_range(high, low, close), window=window)
    return di.alias(f"plus_di_{window}")


def minus_di(
    high: IntoExpr, low: IntoExpr, close: IntoExpr, *, window: int = WILDER_WINDOW
) -> pl.Expr:
    """Minus directional indicator: ``100 * smoothed -DM / smoothed true range``.

    ``-DM`` is the fall of the low when it beats the rise of the high (else 0). Units: 0..100
    for bars with low <= close <= high. Warm-up: rows 0..window-1 are null. See ``adx`` for the
    smoothing. Equals ``talib.MINUS_DI``.

    >>> df = pl.DataFrame({"high": [10.0, 12.0, 11.0, 13.0, 14.0, 13.0],
    ...                    "low": [8.0, 9.0, 7.0, 8.0, 10.0, 9.0],
    ...                    "close": [9.0, 11.0, 8.0, 12.0, 13.0, 10.0]})
    >>> [None if v is None else round(v, 4)
    ...  for v in df.select(minus_di("high", "low", "close", window=2)).to_series()]
    [None, None, 36.3636, 12.9032, 6.3492, 15.748]
    """
    _check_window("minus_di", window, minimum=MIN_DIRECTIONAL_WINDOW)
    fall = (-_directional_movement(high, low)).clip(lower_bound=0.0)
    di = _directional_indicator(fall, true_range(high, low, close), window=window)
    return di.alias(f"minus_di_{window}")


def adx(high: IntoExpr, low: IntoExpr, close: IntoExpr, *, window: int = WILDER_WINDOW) -> pl.Expr:
    """Average directional index: Wilder-smoothed ``DX = 100 * |+DI - -DI| / (+DI + -DI)``.

    Trend strength regardless of direction. Units: 0..100. ``+DM``, ``-DM`` and the true range
    are smoothed Wilder's way, as running sums ``S = S - S / window + x`` seeded with the sum of
    their first ``window - 1`` values, so the DIs and DX start at row ``window``; ADX is seeded
    with the mean of the first ``window`` DX values and then smoothed with alpha ``1 / window``.
    Warm-up: rows 0..2*window-2 are null. No directional movement at all (+DI + -DI = 0) gives
    DX 0, TA-Lib's convention. Equals ``talib.ADX`` (on bars with low <= close <= high; TA-Lib
    also zeroes DX when the smoothed true range is 0, which only invalid bars can combine with
    a non-zero movement).

    The smoothed true range divides both DIs and cancels in DX, so ``close`` (which only enters
    the true range) does not change ADX; it stays in the signature to match ``plus_di``.

    Example with window 2 (hand computed in the test module): DX is 33.33 at row 2 and 42.86 at
    row 3, so ADX starts at their mean 38.10; then (38.10 + 63.64) / 2 = 50.87 and
    (50.87 + 5.26) / 2 = 28.06.

    >>> df = pl.DataFrame({"high": [10.0, 12.0, 11.0, 13.0, 14.0, 13.0],
    ...                    "low": [8.0, 9.0, 7.0, 8.0, 10.0, 9.0],
    ...                    "close": [9.0, 11.0, 8.0, 12.0, 13.0, 10.0]})
    >>> [None if v is None else round(v, 4)
    ...  for v in df.select(adx("high", "low", "close", window=2)).to_series()]
    [None, None, None, 38.0952, 50.8658, 28.0645]
    """
    _check_window("adx", window, minimum=MIN_DIRECTIONAL_WINDOW)
    del close  # cancels in DX, see the docstring
    # At most one of +DM and -DM is non-zero on a row and the smoother is linear, so with the
    # signed movement m = +DM - (-DM):  S(+DM) - S(-DM) = S(m)  and  S(+DM) + S(-DM) = S(|m|).
    movement, net, gross = pl.field("movement"), pl.field("net"), pl.field("gross")
    dx = (
        pl.struct(movement=_directional_movement(high, low))
        .struct.with_fields(
            net=_wilder_running_sum(movement, window=window),
            gross=_wilder_running_sum(movement.abs(), window=window),
        )
        .struct.with_fields(dx=_percent_of(net.abs(), gross))
        .struct.field("dx")
    )
    return _seeded_ewm(dx, alpha=1.0 / window, seed_count=window).alias(f"adx_{window}")


def change(values: IntoExpr, *, lookback: int) -> pl.Expr:
    """Difference to the value ``lookback`` rows earlier: ``values - values.shift(lookback)``.

    "SMA200 higher than 21 sessions ago" is ``change(sma200, lookback=21) > 0``. Units: those of
    ``values``. Warm-up: the first ``lookback`` rows are null; null if either value is null.
    Equals ``talib.MOM``.

    >>> df = pl.DataFrame({"close": [5.0, 7.0, 6.0, 9.0]})
    >>> df.select(change("close", lookback=2)).to_series().to_list()
    [None, None, 1.0, 2.0]
    """
    _check_window("change", lookback, what="lookback")
    value = pl.field("value")
    return (
        pl.struct(value=_as_float(values))
        .struct.with_fields(change=value - value.shift(lookback))
        .struct.field("change")
        .alias(f"change_{lookback}")
    )


def rolling_high(values: IntoExpr, window: int, *, min_samples: int | None = None) -> pl.Expr:
    """Highest value of the last ``window`` rows, the current one included.

    Units: those of ``values``. Warm-up: the first ``window - 1`` rows are null (the first
    ``min_samples - 1`` with ``min_samples``); a window holding a null is null unless it still
    has ``min_samples`` non-null values. Equals ``talib.MAX``.

    >>> df = pl.DataFrame({"high": [3.0, 5.0, 4.0, 2.0, 1.0]})
    >>> df.select(rolling_high("high", 3)).to_series().to_list()
    [None, None, 5.0, 5.0, 4.0]
    """
    _check_window("rolling_high", window)
    required = _min_samples("rolling_high", window, min_samples)
    return (
        _as_float(values).rolling_max(window, min_samples=required).alias(f"rolling_high_{window}")
    )


def rolling_low(values: IntoExpr, window: int, *, min_samples: int | None = None) -> pl.Expr:
    """Lowest value of the last ``window`` rows, the current one included.

    Units: those of ``values``. Warm-up and nulls as ``rolling_high``. Equals ``talib.MIN``.

    >>> df = pl.DataFrame({"low": [3.0, 1.0, 4.0, 2.0, 5.0]})
    >>> df.select(rolling_low("low", 3)).to_series().to_list()
    [None, None, 1.0, 1.0, 2.0]
    """
    _check_window("rolling_low", window)
    required = _min_samples("rolling_low", window, min_samples)
    return (
        _as_float(values).rolling_min(window, min_samples=required).alias(f"rolling_low_{window}")
    )


def _directional_movement(high: IntoExpr, low: IntoExpr) -> pl.Expr:
    """Signed directional movement: +DM where the rise of the high wins, -(-DM) where the fall of
    the low wins, 0 otherwise; null on row 0.

    A move wins only if it is positive and strictly larger than the other, so equal moves give 0,
    as in Wilder and TA-Lib.
    """
    rise, fall = pl.field("rise"), pl.field("fall")
    return (
        pl.struct(rise=_as_float(high).diff(), fall=-_as_float(low).diff())
        .struct.with_fields(
            movement=pl.when((rise > fall) & (rise > 0.0))
            .then(rise)
            .when((fall > rise) & (fall > 0.0))
            .then(-fall)
            .when(rise.is_not_null() & fall.is_not_null())
            .then(0.0)
        )
        .struct.field("movement")
    )


def _directional_indicator(movement: pl.Expr, ranges: pl.Expr, *, window: int) -> pl.Expr:
    """``100 * S(movement) / S(true range)`` with Wilder's running sums, 0 where S(range) is 0."""
    smoothed_movement, smoothed_range = pl.field("movement"), pl.field("range")
    return (
        pl.struct(
            movement=_wilder_running_sum(movement, window=window),
            range=_wilder_running_sum(ranges, window=window),
        )
        .struct.with_fields(di=_percent_of(smoothed_movement, smoothed_range))
        .struct.field("di")
    )


def _wilder_running_sum(values: pl.Expr, *, window: int) -> pl.Expr:
    """Wilder's running sum ``S = S - S / window + x`` divided by ``window``, from its n-th value.

    S starts as the sum of the first ``window - 1`` values, so S / window is an EMA with alpha
    1 / window seeded with (that sum) / window. TA-Lib reports it from the next value on, the
    ``window``-th, so the seed row itself is null.
    """
    return _seeded_ewm(
        values, alpha=1.0 / window, seed_count=window - 1, seed_divisor=window, report_seed=False
    )


def _seeded_ewm(
    values: pl.Expr,
    *,
    alpha: float,
    seed_count: int,
    seed_divisor: int | None = None,
    report_seed: bool = True,
) -> pl.Expr:
    """``m = m + alpha * (x - m)`` over the non-null values, seeded with a simple mean.

    The seed, on the row of the ``seed_count``-th non-null value, is the sum of the first
    ``seed_count`` non-null values divided by ``seed_divisor`` (default ``seed_count``). Rows
    before the seed (and the seed row itself unless ``report_seed``) are null; null rows stay
    null and are skipped by the recursion.
    """
    value, rank = pl.field("value"), pl.field("rank")
    seed = value.drop_nulls().head(seed_count).sum() / (seed_divisor or seed_count)
    # Null before the seed, the seed on its row, the raw values after: ewm_mean (which skips
    # nulls and starts at its first value) then starts from the seed.
    seeded = (
        pl.when(rank < seed_count)
        .then(None)
        .when((rank == seed_count) & value.is_not_null())
        .then(seed)
        .otherwise(value)
    )
    first_reported = 1 if report_seed else 2
    return (
        pl.struct(value=values)
        .struct.with_fields(rank=value.cum_count())
        .struct.with_fields(seeded=seeded)
        .struct.field("seeded")
        .ewm_mean(alpha=alpha, adjust=False, ignore_nulls=True, min_samples=first_reported)
    )


def _percent_of(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``100 * (part / whole)``, 0 where ``whole`` is 0 (TA-Lib's convention); null if either is.

    Called with struct fields (or sums of them), which are cheap to read twice.
    """
    return pl.when(whole == 0.0).then(0.0).otherwise(PERCENT * (part / whole))


def _as_float(values: IntoExpr) -> pl.Expr:
    expr = pl.col(values) if isinstance(values, str) else values
    return expr.cast(pl.Float64)


def _check_window(caller: str, window: int, *, minimum: int = 1, what: str = "window") -> None:
    if isinstance(window, bool) or not isinstance(window, int) or window < minimum:
        raise ValueError(f"{caller}: {what} must be an integer >= {minimum}, got {window!r}")


def _min_samples(caller: str, window: int, min_samples: int | None) -> int:
    if min_samples is None:
        return window
    if isinstance(min_samples, bool) or not isinstance(min_samples, int):
        raise ValueError(f"{caller}: min_samples must be an integer, got {min_samples!r}")
    if not 1 <= min_samples <= window:
        raise ValueError(f"{caller}: min_samples must be in 1..window={window}, got {min_samples}")
    return min_samples
