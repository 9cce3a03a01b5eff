"""Cold start: the whole ``agentdeck`` process in a real terminal, until the list shows a row.

On a copy of the seeded SQLite database (``benchkit.seed``: 10,000 finished workflows made by
DBOS; 200 with ``--quick``), ``agentdeck --db sqlite:///FILE --offline`` runs in a detached tmux
session (120x40, a private tmux server per run: ``benchkit.tmux``), attached (the default with
``--db``: the dashboard only reads) and embedded (``--embedded``: DBOS's executor starts in the
dashboard's process too, in a thread). From just before ``tmux new-session`` the screen is polled
(``capture-pane`` every 10 ms) for the first text at all and for the first workflow row (a seeded
workflow's name). One warm-up run (``.pyc`` files, page cache), then N runs per mode (5; 2 with
``--quick``), alternating; min/median/max. Then where the time goes before the first frame:
``python -X importtime`` of what the dashboard imports, its slowest imports.

Usage: ``python bench/cold_start.py [--quick]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchkit import emit, import_times, parse_args, temp_dir
from benchkit.seed import seeded_db
from benchkit.tmux import Tmux, have_tmux

BIN = Path(sys.executable).parent
ROW_TEXT = "bench.s"  # a seeded run's name (cut to the NAME column on a narrow terminal)
#: What the dashboard imports before its first frame (tui.cli → tui.app → the list screen).
IMPORTS = "import tui.cli, tui.app, tui.screens.workflows, workflows.runtime, tui.supervisor"


def one_run(cache: Path, root: Path, mode: str, i: int) -> dict[str, float]:
    run = root / f"{mode}-{i}"
    run.mkdir()
    db = run / "cold.sqlite"
    shutil.copyfile(cache, db)
    command = [
        "env",
        "-u",
        "DBOS_SYSTEM_DATABASE_URL",
        f"AGENTDECK_STATE_DIR={run / 'state'}",
        str(BIN / "agentdeck"),
        "--db",
        f"sqlite:///{db}",
        "--offline",
        *(["--embedded"] if mode == "embedded" else []),
    ]
    with Tmux(command, cwd=run) as term:
        first_text = None
        deadline = time.perf_counter() + 60
        while True:
            screen = term.capture()
            now = time.perf_counter() - term.started
            if first_text is None and screen.strip():
                first_text = now
            if ROW_TEXT in screen:
                first_row = now
                break
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no workflow row on screen within 60 s ({mode}):\n{screen}")
            time.sleep(0.01)
    return {"first_text_s": first_text or first_row, "first_row_s": first_row}


def stats(values: list[float]) -> dict[str, float]:
    return {
        "min_s": round(min(values), 3),
        "median_s": round(statistics.median(values), 3),
        "max_s": round(max(values), 3),
    }


def import_breakdown(top: int = 12) -> dict[str, Any]:
    """``python -X importtime`` of the dashboard's imports: the slowest, two levels deep."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTS],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return import_times(proc.stderr, top)


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=None, help="runs per mode (5)")


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    n = 200 if args.quick else 10_000
    runs = args.runs or (2 if args.quick else 5)
    modes = ("attach", "embedded")
    if not have_tmux():
        print("cold_start: skipped, tmux is not installed")
        emit({"bench": "cold_start", "quick": args.quick, "skipped": "tmux is not installed"})
        return 0
    cache, seeded = seeded_db(n)
    origin = f"seeded in {seeded:.0f} s" if seeded is not None else "from the cache"
    print(f"cold_start: agentdeck in tmux on {n} workflows ({origin}), {runs} runs per mode")
    results: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
    with temp_dir("bench-cold") as root:
        one_run(cache, root, "attach", 0)  # warm-up
        for i in range(1, runs + 1):
            for mode in modes:
                results[mode].append(one_run(cache, root, mode, i))
    imports = import_breakdown()
    out: dict[str, Any] = {}
    for mode in modes:
        rows = [r["first_row_s"] for r in results[mode]]
        text = [r["first_text_s"] for r in results[mode]]
        out[mode] = {"first_row": stats(rows), "first_text": stats(text)}
        s, t = out[mode]["first_row"], out[mode]["first_text"]
        print(
            f"  {mode:<9} first row on screen: min {s['min_s']:.3f} s  median "
            f"{s['median_s']:.3f} s  max {s['max_s']:.3f} s   (first text: median "
            f"{t['median_s']:.3f} s)"
        )
    print(f"  -X importtime of the dashboard's imports (total {imports['total_s']} s):")
    for item in imports["top"]:
        indent = "  " * int(item["level"])
        print(f"    {item['cumulative_s']:>7.3f} s  {indent}{item['module']}")
    emit(
        {
            "bench": "cold_start",
            "quick": args.quick,
            "rows": n,
            "runs": runs,
            "seed_s": round(seeded, 1) if seeded is not None else None,
            **out,
            "importtime": imports,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
