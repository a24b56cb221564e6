"""The v2 and v3 notes of issue 18's dates side by side, from the real files (read, not timed).

    uv run python bench/side_by_side.py --cache /work/notes/cache > side_by_side.md

Uses bench_coherence's loading (and its cache): every call of the whole history is computed, and
each note is rendered with the previous call, as the site renders it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_coherence

DATES = [
    ("ES", date(2002, 9, 26)),
    ("ES", date(2008, 10, 10)),
    ("ES", date(2020, 3, 16)),
    ("ES", date(2020, 3, 23)),
    ("ES", date(2020, 4, 9)),
    ("NQ", date(2022, 6, 16)),
    ("RTY", date(2008, 10, 10)),
    ("YM", date(2024, 11, 11)),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--methodologies", default="v2,v3")
    args = parser.parse_args()
    from pipeline.analysis.assemble import snapshots_from_frame
    from pipeline.report.note import render_note

    _, rows, _ = bench_coherence.load(args.cache)
    for root, day in DATES:
        name = "TF1 (as RTY)" if root == "RTY" else root
        print(f"# {name} {day.isoformat()}\n")
        for m in args.methodologies.split(","):
            frame = rows[(root, m)]
            at = frame["as_of"].to_list().index(day) if day in frame["as_of"].to_list() else None
            print(f"## {m}\n")
            if at is None:
                print("(no call on this date)\n")
                continue
            previous, snapshot = snapshots_from_frame(frame.slice(max(at - 1, 0), 2))[-2:]
            print(render_note(snapshot, previous=previous if at else None))
            print()


if __name__ == "__main__":
    main()
