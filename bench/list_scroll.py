"""The workflow list over a 100k-workflow database: first paint and one scroll step.

The database is refresh_cost.py's seeded SQLite file (finished workflows made by DBOS itself,
cached under ``bench/.cache/``) with 100,000 workflows (200 with ``--quick``); seeding 100k takes
minutes, once (``benchkit.seed``; the time is printed). The real dashboard (``AgentDeckApp``
under ``App.run_test``, 140x40) attaches to a copy, read-only, as ``agentdeck --db FILE`` does,
several times in this process (imports are warm: the whole process is ``cold_start.py``):

* first paint: from creating the app to the end of the first frame (``benchkit.ui.FrameMeter``,
  which also renders each headless update as a terminal would) that shows rows in the table;
* a scroll step: ``down`` (cursor one row down; the table scrolls when it leaves the window),
  ``pagedown`` and ``pageup``, each sent through the driver as Pilot sends keys, and timed to
  the end of the first frame whose cursor row or scroll offset differs. Keys go one at a time,
  30-130 ms apart.

The list is a window: the newest 500 workflows (the poller's limit), filtered and sorted in the
app; older ones are reached with ``agentdeck ls --limit`` or by id (``ctrl+p``, ``agentdeck show``).

Usage: ``python bench/list_scroll.py [--quick] [--rows N]``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, summary, temp_dir
from benchkit.seed import seeded_db
from benchkit.ui import FrameMeter, until

SIZE = (140, 40)
#: (key, presses) in the last app start: down through the first screens, then pages both ways
#: (500 rows: 45 + 10 pages of ~35 rows stay inside the list, so every key moves something).
KEYS = (("down", 45), ("pagedown", 10), ("pageup", 10), ("up", 15))
QUICK_KEYS = (("down", 8), ("pagedown", 2), ("pageup", 2), ("up", 4))


async def one_start(
    url: str, meter: FrameMeter, keys: tuple[tuple[str, int], ...]
) -> dict[str, Any]:
    from textual import events

    from tui.app import AgentDeckApp
    from tui.supervisor import Supervisor
    from tui.widgets.workflow_table import WorkflowTable

    table: WorkflowTable | None = None

    def probe() -> object:
        if table is None:
            return None
        return (table.row_count, table.cursor_row, round(table.scroll_y))

    meter.frames.clear()
    meter.probe = probe
    t0 = time.time()
    app = AgentDeckApp(Supervisor(url, read_only=True), mode="attach")
    steps: dict[str, list[float]] = {k: [] for k, _ in keys}
    missed = 0
    async with app.run_test(size=SIZE):
        await until(lambda: app.screen.query(WorkflowTable), 30, "the list")
        table = app.screen.query_one(WorkflowTable)

        def painted() -> bool:
            return any(isinstance(f.probe, tuple) and f.probe[0] > 0 for f in meter.frames)

        await until(painted, 60, "the first rows on screen")
        first = next(f for f in meter.frames if isinstance(f.probe, tuple) and f.probe[0] > 0)
        connected_rows = table.row_count
        if keys:
            await asyncio.sleep(0.3)  # settle
            driver = app._driver
            assert driver is not None
            rng = random.Random(11)
            for key, presses in keys:
                for _ in range(presses):
                    await asyncio.sleep(rng.uniform(0.03, 0.13))
                    before = probe()
                    n0 = len(meter.frames)
                    t_key = time.time()
                    driver.send_message(events.Key(key, None))

                    def moved(n0: int = n0, before: object = before) -> bool:
                        return any(f.probe != before for f in meter.frames[n0:])

                    try:
                        await until(moved, 2.0, f"{key} on screen")
                    except RuntimeError:
                        missed += 1
                        continue
                    hit = next(f for f in meter.frames[n0:] if f.probe != before)
                    steps[key].append(hit.end - t_key)
        total = app.snapshot.total
    return {
        "first_paint_s": first.end - t0,
        "first_frame_duration_s": first.duration,
        "rows_shown": connected_rows,
        "total": total,
        "steps": steps,
        "missed": missed,
    }


async def measure(db: Path, starts: int, keys: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    meter = FrameMeter()
    meter.install()
    try:
        runs = []
        for i in range(starts):
            pressed = keys if i == starts - 1 else ()
            runs.append(await one_start(f"sqlite:///{db}", meter, pressed))
    finally:
        meter.uninstall()
    last = runs[-1]
    paints = [r["first_paint_s"] for r in runs]
    return {
        "starts": starts,
        "rows_shown": last["rows_shown"],
        "first_paint_ms": summary(paints, scale=1000.0, digits=0),
        "first_paint_ms_each": [round(p * 1000) for p in paints],
        "first_frame_duration_ms": summary(
            [r["first_frame_duration_s"] for r in runs], scale=1000.0, digits=1
        ),
        "scroll_ms": {k: summary(v, scale=1000.0, digits=1) for k, v in last["steps"].items()},
        "scroll_ms_all": summary(
            [s for v in last["steps"].values() for s in v], scale=1000.0, digits=1
        ),
        "keys_missed": last["missed"],
    }


def _options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rows", type=int, default=None, help="workflows in the database (100000)")
    p.add_argument("--starts", type=int, default=None, help="app starts (5)")


def main() -> int:
    args = parse_args(__doc__ or "", extra=_options)
    n = args.rows or (200 if args.quick else 100_000)
    starts = args.starts or (2 if args.quick else 5)
    t0 = time.monotonic()
    cache, seeded = seeded_db(n)
    origin = f"seeded through DBOS in {seeded:.0f} s" if seeded is not None else "from the cache"
    print(f"list_scroll: {n} workflows ({origin}), {starts} app starts")
    with temp_dir("bench-list") as root:
        db = root / "list.sqlite"
        shutil.copyfile(cache, db)
        result = asyncio.run(measure(db, starts, QUICK_KEYS if args.quick else KEYS))
    fp, steps = result["first_paint_ms"], result["scroll_ms"]
    print(
        f"  first paint (app created -> rows on screen): min {fp['min']} ms, median {fp['p50']} "
        f"ms, max {fp['max']} ms; {result['rows_shown']} rows listed of {n}"
    )
    for key, s in steps.items():
        print(
            f"  {key:<9} -> frame: p50 {s['p50']} ms, p99 {s['p99']} ms, max {s['max']} ms "
            f"(n={s['n']})"
        )
    emit(
        {
            "bench": "list_scroll",
            "quick": args.quick,
            "rows_in_db": n,
            "seed_s": round(seeded, 1) if seeded is not None else None,
            "prepare_s": round(time.monotonic() - t0, 1),
            **result,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
