"""Input fingerprints: what a call was computed from, as one hash per session.

The fingerprint of session D chains the continuous-series rows the analysis read up to D (date,
front contract, raw OHLC, cumulative adjustment), then adds each peer's chain as of D, the
methodology version and the parameters hash. Any vendor revision of a bar on or before D, a
different roll, or a new methodology changes it; bars after D never do. Volume is not part of it
because no call reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import polars as pl

_FIELDS = (
    "session_date",
    "contract",
    "raw_open",
    "raw_high",
    "raw_low",
    "raw_close",
    "offset",
    "factor",
)


def chain_hashes(series: pl.DataFrame) -> pl.Series:
    """sha256 chain over the rows of ``series`` (sorted by session_date), one hex digest per row.

    >>> import datetime as dt
    >>> s = pl.DataFrame({"session_date": [dt.date(2026, 2, 3), dt.date(2026, 2, 4)],
    ...     "contract": ["RTYH26"] * 2, "raw_open": [1.0, 2.0], "raw_high": [3.0, 4.0],
    ...     "raw_low": [0.5, 1.5], "raw_close": [2.0, 3.0], "offset": [0.0, 0.0], "factor": [1.0, 1.0]})
    >>> full, head = chain_hashes(s), chain_hashes(s.head(1))
    >>> full[0] == head[0], full[1] == full[0]
    (True, False)
    """
    digest = hashlib.sha256()
    out = []
    for row in series.select(_FIELDS).iter_rows():
        digest.update(repr(row).encode())
        out.append(digest.copy().hexdigest())
    return pl.Series("chain", out, dtype=pl.String)


def input_fingerprints(
    series: pl.DataFrame,
    *,
    peers: Mapping[str, pl.DataFrame],
    methodology_version: str,
    params_hash: str,
) -> pl.Series:
    """One fingerprint per row of ``series`` (see the module docstring)."""
    frame = series.select("session_date").with_columns(chain_hashes(series).alias("own"))
    names = sorted(peers)
    for name in names:
        peer = peers[name]
        peer_chain = peer.select("session_date").with_columns(chain_hashes(peer).alias(name))
        frame = frame.join_asof(peer_chain, on="session_date", strategy="backward")
    parts = [pl.col("own"), *(pl.format(f"{name}:{{}}", pl.col(name)) for name in names)]
    text = pl.concat_str(
        [*parts, pl.lit(methodology_version), pl.lit(params_hash)], separator="|", ignore_nulls=True
    )
    return pl.Series(
        "input_fingerprint",
        [hashlib.sha256(t.encode()).hexdigest() for t in frame.select(text)[:, 0].to_list()],
        dtype=pl.String,
    )
