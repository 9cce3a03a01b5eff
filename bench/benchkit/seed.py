"""Big system databases made by DBOS itself, cached between runs.

A trivial workflow (``bench.seed``: one step, every 50th run fails with a builtin exception so any
process can decode the stored error) is run N times through DBOS on a SQLite file, which is kept
under ``bench/.cache/`` keyed by N, a seed version and the DBOS version. Seeding is CPU-bound in
DBOS's own bookkeeping (eight SQL statements per workflow through SQLAlchemy: about 3 ms per
workflow), so the workflows are called one after the other in one thread (threads only contend
for the GIL; a second process on the same SQLite file only waits for its write lock: both
measured slower), with ``PRAGMA synchronous=OFF`` on DBOS's connections (a crash while seeding
only loses the cache file, which is written under a temporary name and renamed when complete).
100k workflows took 455 s here (once; the machine was shared).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from dbos import DBOS

from . import CACHE_DIR, temp_dir

__all__ = [
    "COUNT_RUNS",
    "FAIL_EVERY",
    "SEED_VERSION",
    "count_runs",
    "seed",
    "seed_workflow",
    "seeded_db",
]

#: Bump when the seeded data changes, so stale caches are not reused.
SEED_VERSION = 2
FAIL_EVERY = 50


@DBOS.step(name="bench.seed_step")
def seed_step(i: int) -> int:
    return i * 2


@DBOS.workflow(name="bench.seed")
def seed_workflow(i: int) -> str:
    value = seed_step(i)
    if i % FAIL_EVERY == 0:
        # A builtin exception, so every process can decode the stored error.
        raise ValueError(f"seeded failure {i}")
    return f"done {i}: {value}"


def _presence() -> str:
    from workflows.presence import PRESENCE_WORKFLOW

    return PRESENCE_WORKFLOW


#: Runs only: each runtime also keeps one presence row (``agentdeck.worker``) for its executor.
COUNT_RUNS = "SELECT count(*) FROM {t} WHERE name <> '{presence}'"


def count_runs(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        sql = COUNT_RUNS.format(t="workflow_status", presence=_presence())
        return int(conn.execute(sql).fetchone()[0])


def _fast_sqlite() -> None:
    """``synchronous=OFF`` on DBOS's SQLite connections from now on (seeding only)."""
    import sqlalchemy as sa
    from dbos._dbos import _get_dbos_instance

    engine = _get_dbos_instance()._sys_db.engine
    if engine.dialect.name != "sqlite":
        return

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA synchronous=OFF")

    sa.event.listen(engine, "connect", on_connect)
    engine.dispose()


def seed(db_url: str, numbers: range, state_dir: Path) -> float:
    """Run the seed workflow once per number through DBOS; returns the seconds it took."""
    from workflows.model_offline.transport import transport_factory
    from workflows.runtime import Runtime, RuntimeSettings

    from . import quiet_logging

    rt = Runtime(
        RuntimeSettings(
            db_url=db_url,
            offline=True,
            state_dir=state_dir,
            transport_factory=transport_factory,
        )
    )
    rt.launch()
    quiet_logging(state_dir)
    _fast_sqlite()
    started = time.monotonic()
    try:
        for i in numbers:
            try:
                seed_workflow(i)  # called directly: the workflow runs in this thread
            except ValueError:
                pass
    finally:
        rt.shutdown()
    return time.monotonic() - started


def seeded_db(n: int) -> tuple[Path, float | None]:
    """The cached seeded database for ``n`` workflows (seeding it first if needed).

    Returns its path and the seconds seeding took (None when it came from the cache).
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"seed-v{SEED_VERSION}-{n}-dbos{metadata.version('dbos')}.sqlite"
    if path.exists() and count_runs(path) == n:
        return path, None
    with temp_dir("bench-seed") as tmp:
        db = tmp / "seed.sqlite"
        if n > 20_000:
            print(f"seeding {n} workflows through DBOS (~{n * 0.0045 / 60:.0f} min, once)…")
        took = seed(f"sqlite:///{db}", range(1, n + 1), tmp / "state")
        if (got := count_runs(db)) != n:
            raise RuntimeError(f"seeding made {got} rows, not {n}")
        partial = path.with_suffix(f".{os.getpid()}.sqlite-partial")
        shutil.copyfile(db, partial)
        os.replace(partial, path)
    return path, took
