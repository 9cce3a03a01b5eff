"""Bulk resume of 1,000 failed runs (issue 14): wall time and statements, through the same code
as ``*`` + ``r`` in the list and ``agentdeck resume --filter``.

The database is the DBOS-seeded one grown with 1,000 failed copies (tests/support/seed.py). The
data layer reads the set (one filter), finds each run's failed step (one statement per 1,000)
and rewinds each onto the launch queue (DBOS has no batch rewind); statements are counted on
both engines (the data layer's and DBOS's own). No executor runs here, so the runs stay queued.
The last line is JSON.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchkit import emit, parse_args, quiet_logging, temp_dir  # noqa: E402
from benchkit.seed import seeded_db  # noqa: E402

from tests.support.seed import copy_rows  # noqa: E402


async def run(path: Path, n: int) -> dict[str, Any]:
    import sqlalchemy as sa

    from tui.supervisor import Supervisor
    from tui.supervisor.bulk import plan

    sup = Supervisor(f"sqlite:///{path}")
    await sup.connect()
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    engines = {id(e): e for e in (sup.sql.engine, sup.client._sys_db.engine)}  # bench only
    for engine in engines.values():
        sa.event.listen(engine, "before_cursor_execute", count)
    try:
        t0 = time.perf_counter()
        rows = await sup.bulk_rows(filter_text="status:error name:bench")
        read_s = time.perf_counter() - t0
        todo = plan("resume", rows)
        t1 = time.perf_counter()
        result = await sup.bulk_apply(todo)
        apply_s = time.perf_counter() - t1
        again = plan("resume", await sup.bulk_rows(filter_text="status:error name:bench"))
    finally:
        await sup.close()
    return {
        "runs": n,
        "resumed": len(result.done),
        "failed": len(result.failed),
        "read_set_s": round(read_s, 3),
        "apply_s": round(apply_s, 3),
        "statements": counted[0],
        "statements_per_run": round(counted[0] / max(1, len(result.done)), 1),
        "left_after": len(again.act_on),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__ or "", argv)
    n = 50 if args.quick else 1000
    src, _ = seeded_db(200)
    with temp_dir("bench-bulk") as tmp:
        quiet_logging(tmp)
        path = tmp / "bulk.sqlite"
        shutil.copyfile(src, path)
        conn = sqlite3.connect(path)
        (bad,) = conn.execute(
            "SELECT workflow_uuid FROM workflow_status WHERE status = 'ERROR' "
            "AND name = 'bench.seed' LIMIT 1"
        ).fetchone()
        done = conn.execute(
            "UPDATE workflow_status SET status = 'SUCCESS' WHERE status = 'ERROR' "
            "AND workflow_uuid <> ?",
            (bad,),
        ).rowcount
        conn.commit()
        conn.close()
        start = int(time.time() * 1000) - n * 1000
        copy_rows(
            f"sqlite:///{path}",
            bad,
            n - 1,
            status="ERROR",
            start_ms=start,
            step_ms=1000,
            prefix="bad",
        )
        out = asyncio.run(run(path, n))
        out["other_failures_marked_done"] = done
        out["bench"], out["quick"] = "bulk_resume", args.quick
    print(
        f"bulk resume of {out['resumed']} failed runs: read the set {out['read_set_s']} s, "
        f"resumed in {out['apply_s']} s, {out['statements']} statements "
        f"({out['statements_per_run']} per run); failed {out['failed']}; "
        f"left to resume after: {out['left_after']}"
    )
    emit(out)


if __name__ == "__main__":
    main()
