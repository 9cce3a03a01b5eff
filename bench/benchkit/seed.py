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

On PostgreSQL (``seeded_pg``) the throwaway servers keep nothing between runs, so the seeded
database is kept as a ``pg_dump`` archive under ``bench/.cache/`` (keyed by N, the seed version,
the DBOS version and the server's major version) and restored into each fresh database with
``pg_restore``: seconds instead of a minute per 10k workflows of seeding through DBOS.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

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
    "seeded_pg",
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


def _pg_env(db_url: str) -> dict[str, str]:
    """libpq's variables for ``db_url`` (a password never goes on a command line)."""
    parts = urlsplit(db_url)
    env = dict(os.environ)
    env.update(
        {
            "PGHOST": parts.hostname or "127.0.0.1",
            "PGPORT": str(parts.port or 5432),
            "PGUSER": unquote(parts.username or ""),
            "PGPASSWORD": unquote(parts.password or ""),
            "PGDATABASE": parts.path.lstrip("/"),
            "PGCONNECT_TIMEOUT": "10",
        }
    )
    return env


def _pg_tool(name: str) -> str:
    from . import REPO_ROOT

    if str(REPO_ROOT) not in sys.path:
        sys.path.append(str(REPO_ROOT))
    from tests.pg import find_pg_bin

    return str(find_pg_bin() / name)


def _pg_count(db_url: str) -> int:
    import psycopg

    sql = COUNT_RUNS.format(t="dbos.workflow_status", presence=_presence())
    with psycopg.connect(db_url, connect_timeout=10) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _pg_major(db_url: str) -> str:
    import psycopg

    with psycopg.connect(db_url, connect_timeout=10) as conn:
        return str(conn.info.server_version // 10000)


def _pg_analyze(db_url: str) -> None:
    import psycopg

    with psycopg.connect(db_url, connect_timeout=10, autocommit=True) as conn:
        conn.execute("ANALYZE")


def seeded_pg(db_url: str, n: int, state_dir: Path) -> tuple[float | None, float]:
    """Fill the fresh, empty PostgreSQL database ``db_url`` with the ``n`` seeded workflows.

    Restored from the cached ``pg_dump`` archive when there is one; else seeded through DBOS
    (:func:`seed`) and then dumped for the next run. Either way the planner's statistics are
    gathered (``ANALYZE``: a restore leaves none) before it returns. Returns (seconds seeding
    took, None when restored; seconds the restore or the dump took).
    """
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    name = f"pg{_pg_major(db_url)}-seed-v{SEED_VERSION}-{n}-dbos{metadata.version('dbos')}.dump"
    path = CACHE_DIR / name
    env = _pg_env(db_url)
    t0 = time.monotonic()
    if path.exists():
        cmd = [
            _pg_tool("pg_restore"),
            "--no-owner",
            "--no-acl",
            "--exit-on-error",
            "-d",
            env["PGDATABASE"],
            str(path),
        ]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if proc.returncode == 0 and _pg_count(db_url) == n:
            _pg_analyze(db_url)
            return None, time.monotonic() - t0
        raise RuntimeError(
            f"pg_restore of {path.name} failed (exit {proc.returncode}); delete it to seed "
            f"again:\n{proc.stderr[-2000:]}"
        )
    took = seed(db_url, range(1, n + 1), state_dir)
    if (got := _pg_count(db_url)) != n:
        raise RuntimeError(f"seeding made {got} rows, not {n}")
    t1 = time.monotonic()
    partial = path.with_suffix(f".{os.getpid()}.dump-partial")
    cmd = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-acl", "-f", str(partial)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        print(f"(pg_dump failed, nothing cached: {proc.stderr.strip()[-300:]})", flush=True)
    else:
        os.replace(partial, path)
    _pg_analyze(db_url)
    return took, time.monotonic() - t1
