"""Helpers shared by the bench scripts (a package, so ``make bench`` does not run it).

Each ``bench/*.py`` script prints human-readable figures and, as its last stdout line, one JSON
object with the same figures; ``--quick`` shrinks every size so a test can run it.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR",
    "CACHE_DIR",
    "REPO_ROOT",
    "emit",
    "import_times",
    "parse_args",
    "percentile",
    "quiet_logging",
    "summary",
    "summary_row",
    "temp_dir",
]

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = BENCH_DIR.parent
#: Seeded databases are kept here between runs (``*.sqlite`` is gitignored).
CACHE_DIR = BENCH_DIR / ".cache"


def parse_args(
    description: str,
    argv: Sequence[str] | None = None,
    *,
    pg: bool = False,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """``--quick``; ``--pg`` too when ``pg`` (see :mod:`benchkit.pg`); ``extra`` adds more."""
    p = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run for the tests)")
    if pg:
        p.add_argument(
            "--pg",
            action="store_true",
            help="on PostgreSQL instead of SQLite: a fresh database on $AGENTDECK_TEST_PG_URL's "
            "server if set, else on a throwaway server (tests/pg.py)",
        )
    if extra is not None:
        extra(p)
    return p.parse_args(argv)


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile (``pct`` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def summary(values: Sequence[float], *, scale: float = 1.0, digits: int = 2) -> dict[str, Any]:
    """n, min, p50, p99, max and mean of ``values`` (times ``scale``), rounded."""

    def r(x: float) -> float | None:
        return None if math.isnan(x) else round(x * scale, digits)

    return {
        "n": len(values),
        "min": r(min(values)) if values else None,
        "p50": r(percentile(values, 50)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values)) if values else None,
        "mean": r(sum(values) / len(values)) if values else None,
    }


def summary_row(label: str, s: dict[str, Any]) -> str:
    """One printed line of a :func:`summary`: label, p50, p99, max and n."""
    return (
        f"  {label:<44} p50 {s['p50']!s:>7}  p99 {s['p99']!s:>7}  max {s['max']!s:>7}  (n={s['n']})"
    )


def emit(result: dict[str, Any]) -> None:
    """Print the figures as one JSON object: the script's last stdout line."""
    sys.stdout.flush()
    print(json.dumps(result, sort_keys=True, default=str), flush=True)


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( +)(\S+)")


def import_times(stderr: str, top: int) -> dict[str, Any]:
    """The slowest imports two levels deep, from ``python -X importtime``'s stderr.

    Level 0 is what the code imports itself, level 1 what those import; times are cumulative
    (a module shared by two is charged to the first that imports it).
    """
    entries: list[tuple[str, int, float]] = []
    total = 0.0
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if not m:
            continue
        depth = (len(m.group(3)) - 1) // 2
        seconds = int(m.group(2)) / 1e6
        if depth == 0:
            total += seconds
        if depth <= 1:
            entries.append((m.group(4), depth, seconds))
    entries.sort(key=lambda e: -e[2])
    return {
        "total_s": round(total, 3),
        "top": [
            {"module": name, "level": depth, "cumulative_s": round(s, 3)}
            for name, depth, s in entries[:top]
        ],
    }


def quiet_logging(state_dir: Path) -> None:
    """Send DBOS's and agentdeck's logs to a file, as the app does (never to stdout)."""
    from workflows.runtime import configure_logging

    configure_logging(state_dir, level=logging.WARNING)


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"agentdeck-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
