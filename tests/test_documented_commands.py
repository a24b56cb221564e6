"""Every command block of README.md and warehouse/queries/README.md runs as written.

The blocks are found in the Markdown (```sh and ```python fences, indented ones too) and run in
document order, each as one script (`bash -e -o pipefail`; Python blocks with `.venv/bin/python`)
in a subprocess, from a working directory laid out like a fresh checkout: the repository's files
linked in, `.venv` the environment running the tests, a fresh copy of `examples/`, and `data/` as
`make run` leaves it (`callbook nightly`, built once per module). Each block must exit 0 and print
something. A `<!-- doc-test: ... -->` comment on the line before a block says how else to run it:

- `skip (why)`: it cannot run offline (Yahoo, a Prefect server and worker, a Dask cluster, make);
  the test names it and why.
- `makes history`: it writes the demo history into `data/` (`callbook backfill`); it runs once, in
  a working directory of its own holding a copy of `data/`.
- `on history`: it reads `data/` after that block.

A block that runs on `data/` must leave its warehouse as it was (examples write to data
directories of their own): the test compares the file's sha256 before and after. The flow
commands run on the session's Prefect test server (PREFECT_API_URL), as a user's with a server.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = (ROOT / "README.md", ROOT / "warehouse" / "queries" / "README.md")
VENV = Path(sys.executable).parent.parent
RUN_TIMEOUT = 900.0  # seconds for one block (a backfill of the whole demo history on 2 busy cores)
FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<lang>[a-z]*)[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
MARKER = re.compile(r"^\s*<!--\s*doc-test:\s*(?P<what>.*?)\s*-->\s*$")
RUNNABLE = ("sh", "python")
MAKES_HISTORY, ON_HISTORY = "makes history", "on history"
SKIP = re.compile(r"^skip \((?P<why>.+)\)$")
#: What may keep a block from running here: every skip names one of these.
OFFLINE_IMPOSSIBLE = ("network", "Prefect server", "Dask", "make")
WAREHOUSE = Path("data") / "warehouse.duckdb"
#: The checkout's entries linked into the working directory (files the blocks write, such as
#: es-bars.csv, land in it, never in the repository).
CHECKOUT = (
    "Makefile", "README.md", "pyproject.toml", "uv.lock",
    "bench", "deployments", "flows", "pipeline", "tests", "warehouse",
)  # fmt: skip


@dataclass(frozen=True)
class Block:
    doc: Path
    line: int  # of the opening fence, 1-based
    lang: str
    body: str  # dedented
    marker: str  # the doc-test comment's text, "" without one

    @property
    def name(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}"

    @property
    def skip_reason(self) -> str | None:
        match = SKIP.match(self.marker)
        return match["why"] if match else None

    def check_marker(self) -> None:
        if self.marker not in ("", MAKES_HISTORY, ON_HISTORY) and self.skip_reason is None:
            raise ValueError(f"{self.name}: unknown doc-test comment {self.marker!r}")


def blocks_of(doc: Path) -> list[Block]:
    text = doc.read_text(encoding="utf-8")
    found = []
    for fence in FENCE.finditer(text):
        if fence["lang"] not in RUNNABLE:
            continue
        indent = len(fence["indent"])
        body = "".join(line[indent:] for line in fence["body"].splitlines(keepends=True))
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.match(before)
        found.append(
            Block(
                doc,
                text.count("\n", 0, fence.start()) + 1,
                fence["lang"],
                body,
                marker["what"] if marker else "",
            )
        )
    return found


BLOCKS = [block for doc in DOCS for block in blocks_of(doc)]


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def report(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out[-4000:]}\n--- stderr\n{self.err[-4000:]}"


@dataclass(frozen=True)
class Checkout:
    """A working directory laid out as the README expects, and the environment to run in it."""

    path: Path
    env: dict[str, str]

    def run(self, block: Block) -> Ran:
        if block.lang == "sh":
            argv = ["bash", "-e", "-o", "pipefail", "-c", block.body]
        else:
            script = self.path / f".doc-test-{block.doc.stem}-{block.line}.py"
            script.write_text(block.body, encoding="utf-8")
            argv = [".venv/bin/python", script.name]
        result = subprocess.run(
            argv,
            cwd=self.path,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
        return Ran(result.returncode, result.stdout, result.stderr)

    def warehouse_digest(self) -> str:
        return hashlib.sha256((self.path / WAREHOUSE).read_bytes()).hexdigest()


def fresh_checkout(path: Path, env: dict[str, str]) -> Checkout:
    """The repository's files linked into ``path``, `.venv` the running environment, a fresh copy
    of examples/ (no data directory, nothing a previous run left)."""
    path.mkdir(parents=True)
    (path / ".venv").symlink_to(VENV)
    for name in CHECKOUT:
        (path / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "examples", path / "examples")
    return Checkout(path, env)


@pytest.fixture(scope="module")
def environment(prefect_harness: None) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("CALLBOOK_")},
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the session's test server
    }


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, environment: dict[str, str]) -> Checkout:
    """A fresh checkout after `make run` (`callbook nightly` on the demo source)."""
    checkout = fresh_checkout(tmp_path_factory.mktemp("docs") / "checkout", environment)
    nightly = subprocess.run(
        [".venv/bin/callbook", "nightly"],
        cwd=checkout.path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert nightly.returncode == 0, Ran(nightly.returncode, nightly.stdout, nightly.stderr)
    return checkout


@dataclass(frozen=True)
class History:
    checkout: Checkout
    made: Ran  # what the `makes history` block printed


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory, demo: Checkout) -> Iterator[History]:
    """Another fresh checkout with a copy of the demo's data/, after the `makes history` block."""
    (block,) = [b for b in BLOCKS if b.marker == MAKES_HISTORY]
    checkout = fresh_checkout(tmp_path_factory.mktemp("docs") / "checkout", demo.env)
    shutil.copytree(demo.path / "data", checkout.path / "data", symlinks=True)
    yield History(checkout, checkout.run(block))


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.name)
def test_documented_block_runs_as_written(block: Block, request: pytest.FixtureRequest) -> None:
    block.check_marker()
    if block.skip_reason is not None:
        pytest.skip(f"{block.name}: {block.skip_reason}")
    if block.marker == MAKES_HISTORY:
        ran = request.getfixturevalue("history").made
    else:
        checkout = (
            request.getfixturevalue("history").checkout
            if block.marker == ON_HISTORY
            else request.getfixturevalue("demo")
        )
        before = checkout.warehouse_digest()
        ran = checkout.run(block)
        assert checkout.warehouse_digest() == before, f"{block.name} wrote to {WAREHOUSE}"
    assert ran.code == 0, f"{block.name}\n{block.body}\n{ran.report()}"
    assert (ran.out + ran.err).strip(), f"{block.name} printed nothing"


def test_every_block_runs_or_says_why_it_cannot_run_offline() -> None:
    """The blocks skipped, counted and named: only what needs the network, a Prefect server, a
    Dask cluster or make. Both documents have blocks that run."""
    for block in BLOCKS:
        block.check_marker()
    skipped = {b.name: b.skip_reason for b in BLOCKS if b.skip_reason is not None}
    print(f"{len(BLOCKS) - len(skipped)} of {len(BLOCKS)} command blocks run; skipped:")
    for name, why in skipped.items():
        print(f"  {name}: {why}")
    for name, why in skipped.items():
        assert why and any(word in why for word in OFFLINE_IMPOSSIBLE), f"{name}: {why}"
    for doc in DOCS:
        runs = [b for b in BLOCKS if b.doc == doc and b.skip_reason is None]
        assert len(runs) >= 3, f"{doc.name}: {len(runs)} block(s) run"
    assert [b.marker for b in BLOCKS].count(MAKES_HISTORY) == 1
