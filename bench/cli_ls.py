"""``agentdeck ls`` against ``dbos workflow list``, as whole processes, on the same database.

Both list every workflow of the seeded SQLite database of refresh_cost.py (10,000 finished
workflows; 200 with ``--quick``) as JSON:

* ``agentdeck --db sqlite:///DB ls --json --limit N``: reads the system tables itself
  (``tui/fastls.py``: stdlib sqlite3, no DBOS, SQLAlchemy or pydantic)
* ``dbos workflow list --sys-db-url sqlite:///DB --limit N`` (the DBOS CLI needs no
  dbos-config.yaml when given ``--sys-db-url``; it loads each workflow's input and output, which
  ``agentdeck ls`` does not)

For scale: ``python -c 'print("[]")'`` (the interpreter alone); the floor of a listing with the
standard library's sqlite3 and json reading the same rows, events and errors in a dozen lines
(no redaction, no stranded-run check, no validation); and the data layer's listing
(``Supervisor.list_workflows`` through ``DBOSClient``, what ``agentdeck ls`` ran before
``tui/fastls.py``), whose JSON must be what ``agentdeck ls`` prints (byte for byte, but for
the order of rows created in the same millisecond on PostgreSQL).

Each runs from a scratch directory, once to warm up and then 5 times (2 with ``--quick``),
alternating; min/median/max wall time and the ratio of medians are printed. The children
write their bytecode under the scratch directory (``PYTHONPYCACHEPREFIX``, even when
``PYTHONDONTWRITEBYTECODE`` is set here), so every command runs from compiled bytecode as an
installed package would, and the repository gets no ``__pycache__``. Then where
``agentdeck ls``'s time goes: interpreter start, imports (``python -X importtime``, the biggest
top-level imports) and the command itself.

``--pg`` runs the same on PostgreSQL: the seeded workflows restored from refresh_cost.py's
cached ``pg_dump`` into a fresh database (on a throwaway server, or on
``$AGENTDECK_TEST_PG_URL``'s); the sqlite3 floor is left out.

Usage: ``python bench/cli_ls.py [--quick] [--pg]``
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchkit import emit, import_times, parse_args, temp_dir
from benchkit.seed import seeded_db

BIN = Path(sys.executable).parent

#: Run in a child interpreter: time the imports (the CLI's and those ``ls`` makes lazily), then
#: the command itself, separately.
PHASES = """
import contextlib, io, json, sys, time
t0 = time.perf_counter()
from tui.cli import main
import tui.fastls  # what the command imports lazily (and its driver, below)
if sys.argv[2].startswith("postgres"):
    import psycopg
else:
    import sqlite3
t1 = time.perf_counter()
out = io.StringIO()
with contextlib.redirect_stdout(out):
    rc = main(sys.argv[1:])
t2 = time.perf_counter()
rows = len(json.loads(out.getvalue()))
print(json.dumps({"import_s": t1 - t0, "command_s": t2 - t1, "rc": rc, "rows": rows}))
"""


#: The floor of a listing that does not import DBOS: the standard library's sqlite3 and json read
#: the same rows ``agentdeck ls`` lists (no inputs or outputs), the events it shows (progress,
#: approval) and the errors of failed runs (DBOS's pickle format, decoded without DBOS), and print
#: them as JSON: the least any listing of these rows costs. ``agentdeck ls`` (tui/fastls.py) adds
#: the rest of the data layer's row: redaction, executors' presence, recv waits, event checks.
STDLIB_LS = """
import base64, json, pickle, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
conn = sqlite3.connect(db)
cols = ("workflow_uuid", "status", "name", "recovery_attempts", "queue_name", "executor_id",
        "created_at", "updated_at", "application_version", "forked_from", "parent_workflow_id",
        "completed_at", "attributes")
rows = [dict(zip(cols, r)) for r in conn.execute(
    f"SELECT {', '.join(cols)} FROM workflow_status WHERE name <> 'agentdeck.worker' "
    "ORDER BY created_at DESC LIMIT ?", (n,))]
def decode(value, ser):
    if value is None:
        return None
    if ser == "portable_json":
        return json.loads(value)
    return pickle.loads(base64.b64decode(value))
ids = [r["workflow_uuid"] for r in rows]
events = {}
for i in range(0, len(ids), 1000):
    batch = ids[i:i + 1000]
    q = ",".join("?" * len(batch))
    for wid, key, value, ser in conn.execute(
            f"SELECT workflow_uuid, key, value, serialization FROM workflow_events "
            f"WHERE workflow_uuid IN ({q}) AND key IN ('agentdeck.progress', 'agentdeck.approval')",
            batch):
        events.setdefault(wid, {})[key] = decode(value, ser)
failed = [r["workflow_uuid"] for r in rows if r["status"] == "ERROR"]
errors = {}
for i in range(0, len(failed), 1000):
    batch = failed[i:i + 1000]
    q = ",".join("?" * len(batch))
    for wid, err, ser in conn.execute(
            f"SELECT s.workflow_uuid, coalesce(o.error, s.error), s.serialization "
            f"FROM workflow_status s LEFT JOIN workflow_output o USING (workflow_uuid) "
            f"WHERE s.workflow_uuid IN ({q})", batch):
        errors[wid] = str(decode(err, ser))
for r in rows:
    r["attributes"] = json.loads(r["attributes"]) if r["attributes"] else {}
    r["events"] = events.get(r["workflow_uuid"], {})
    r["error"] = errors.get(r["workflow_uuid"], "")
print(json.dumps(rows, default=str))
"""


#: The data layer's listing, as ``agentdeck ls`` printed it before tui/fastls.py.
DATA_LAYER_LS = """
import asyncio, json, sys
from tui.supervisor import Supervisor
async def main(url, n):
    sup = Supervisor(url)
    await sup.connect()
    try:
        rows = await sup.list_workflows(limit=n)
    finally:
        await sup.close()
    print(json.dumps([r.model_dump(mode="json") for r in rows], default=str))
asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def _env(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DBOS_SYSTEM_DATABASE_URL", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(scratch / "pycache")
    env["AGENTDECK_STATE_DIR"] = str(scratch / "state")
    return env


def _run(cmd: list[str], scratch: Path, expect_rows: int) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=scratch, env=_env(scratch), capture_output=True, timeout=300)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        said = re.sub(r"://([^:/@\s]+):[^@\s]+@", r"://\1:***@", proc.stderr.decode()[-500:])
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {said}")
    rows = len(json.loads(proc.stdout))
    if rows != expect_rows:
        raise RuntimeError(f"{cmd[0]} listed {rows} workflows, not {expect_rows}")
    return wall, proc.stdout


def _same_listing(ours: bytes, theirs: bytes) -> bool:
    """The same JSON, byte for byte; or, on PostgreSQL, where rows created in the same
    millisecond come in either order, the same rows newest first."""
    if ours == theirs:
        return True
    a, b = json.loads(ours), json.loads(theirs)
    created = [r["created_at"] or 0 for r in a]
    return created == sorted(created, reverse=True) and _by_time(a) == _by_time(b)


def _by_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-(r["created_at"] or 0), r["workflow_id"]))


def _timed(cmd: list[str], scratch: Path, expect_rows: int) -> float:
    return _run(cmd, scratch, expect_rows)[0]


def _stats(walls: list[float]) -> dict[str, float]:
    return {
        "min_s": round(min(walls), 3),
        "median_s": round(statistics.median(walls), 3),
        "max_s": round(max(walls), 3),
    }


def import_breakdown(scratch: Path, argv: list[str], top: int = 10) -> dict[str, Any]:
    """``python -X importtime`` of the ls command: its slowest imports two levels deep.

    Level 0 is what the command imports itself, level 1 what those import; times are cumulative
    (a module shared by two is charged to the first that imports it).
    """
    code = "import sys; from tui.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *argv],
        cwd=scratch,
        env=_env(scratch),
        capture_output=True,
        text=True,
        timeout=300,
    )
    return import_times(proc.stderr, top)


def _child_import_s(scratch: Path, module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=scratch, env=_env(scratch), capture_output=True
    )
    return float(proc.stdout.decode().strip() or "nan")


def _measure(
    url: str, n: int, runs: int, scratch: Path, floor_db: Path | None
) -> tuple[dict[str, list[float]], dict[str, Any], dict[str, Any], dict[str, float]]:
    """Wall times of every command, then where ``agentdeck ls``'s time goes."""
    ls_argv = ["--db", url, "ls", "--json", "--limit", str(n)]
    commands = {
        "agentdeck_ls": [str(BIN / "agentdeck"), *ls_argv],
        "dbos_workflow_list": [
            str(BIN / "dbos"),
            "workflow",
            "list",
            "--sys-db-url",
            url,
            "--limit",
            str(n),
        ],
        "python_startup": [sys.executable, "-c", "print('[]')"],
        "data_layer_ls": [sys.executable, "-c", DATA_LAYER_LS, url, str(n)],
    }
    if floor_db is not None:
        commands["stdlib_sqlite3_floor"] = [sys.executable, "-c", STDLIB_LS, str(floor_db), str(n)]
    expect = {name: 0 if name == "python_startup" else n for name in commands}
    walls: dict[str, list[float]] = {name: [] for name in commands}
    outputs = {}
    for name, cmd in commands.items():  # warm-up: .pyc files, page cache
        outputs[name] = _run(cmd, scratch, expect[name])[1]
    if not _same_listing(outputs["agentdeck_ls"], outputs["data_layer_ls"]):
        raise RuntimeError("agentdeck ls and the data layer listed different JSON")
    for _ in range(runs):
        for name, cmd in commands.items():
            walls[name].append(_timed(cmd, scratch, expect[name]))
    phases_proc = subprocess.run(
        [sys.executable, "-c", PHASES, *ls_argv],
        cwd=scratch,
        env=_env(scratch),
        capture_output=True,
        timeout=300,
    )
    phases = json.loads(phases_proc.stdout.decode().strip().splitlines()[-1])
    imports = import_breakdown(scratch, ls_argv)
    driver = "sqlite3" if floor_db is not None else "psycopg"
    alone = {
        m: _child_import_s(scratch, m)
        for m in ("tui.fastls", driver, "dbos", "claude_agent_sdk", "textual")
    }
    return walls, phases, imports, alone


def main() -> int:
    args = parse_args(__doc__ or "", pg=True)
    n = 200 if args.quick else 10_000
    runs = 2 if args.quick else 5
    extra: dict[str, Any] = {"backend": "postgresql" if args.pg else "sqlite"}
    with temp_dir("bench-cli-ls") as scratch:
        if args.pg:
            from benchkit.pg import pg_database
            from benchkit.seed import seeded_pg

            with pg_database() as pg:
                seeded, restore_s = seeded_pg(pg.url, n, scratch / "state")
                origin = "seeded" if seeded is not None else "restored from the cached pg_dump"
                print(f"cli_ls --pg: {n} workflows ({origin} in {restore_s:.1f} s), {runs} runs")
                walls, phases, imports, alone = _measure(pg.url, n, runs, scratch, None)
                extra["pg"] = pg.describe()
        else:
            cache, seeded = seeded_db(n)
            origin = f"seeded in {seeded:.1f} s" if seeded is not None else "from the cache"
            print(f"cli_ls: {n} workflows ({origin}), {runs} runs each")
            db = scratch / "ls.sqlite"
            shutil.copyfile(cache, db)
            walls, phases, imports, alone = _measure(f"sqlite:///{db}", n, runs, scratch, db)

    stats = {name: _stats(w) for name, w in walls.items()}
    dbos_median = stats["dbos_workflow_list"]["median_s"]
    ratio = stats["agentdeck_ls"]["median_s"] / dbos_median
    for name, s in stats.items():
        print(
            f"  {name:<20} min {s['min_s']:.3f} s  median {s['median_s']:.3f} s  "
            f"max {s['max_s']:.3f} s"
        )
    print(f"  agentdeck ls / dbos workflow list (medians): {ratio:.2f}")
    floor = None
    if "stdlib_sqlite3_floor" in stats:
        floor = stats["stdlib_sqlite3_floor"]["median_s"] / dbos_median
        print(
            f"  the sqlite3 + json floor (same rows, no checks) / dbos workflow list: {floor:.2f}"
        )
    before = stats["data_layer_ls"]["median_s"] / dbos_median
    print(
        f"  the data layer's listing through DBOSClient (ls before tui/fastls.py) / dbos "
        f"workflow list: {before:.2f}; it lists the same JSON as agentdeck ls"
    )
    print(
        f"  agentdeck ls in-process: imports {phases['import_s']:.3f} s, "
        f"command {phases['command_s']:.3f} s ({phases['rows']} rows)"
    )
    print(f"  -X importtime of ls, slowest imports 2 levels deep (total {imports['total_s']} s):")
    for item in imports["top"]:
        indent = "  " * int(item["level"])
        print(f"    {item['cumulative_s']:>7.3f} s  {indent}{item['module']}")
    print(
        "  each alone in a fresh interpreter: "
        + ", ".join(f"import {m} {s:.3f} s" for m, s in alone.items())
    )
    emit(
        {
            "bench": "cli_ls",
            "quick": args.quick,
            **extra,
            "rows": n,
            "runs": runs,
            "seed_s": round(seeded, 1) if seeded is not None else None,
            "wall": stats,
            "ratio_of_medians": round(ratio, 2),
            "stdlib_floor_ratio": round(floor, 2) if floor is not None else None,
            "data_layer_ratio": round(before, 2),
            "same_json_as_data_layer": True,
            "agentdeck_ls_phases_s": {
                "import": round(phases["import_s"], 3),
                "command": round(phases["command_s"], 3),
            },
            "importtime": imports,
            "import_alone_s": {m: round(s, 3) for m, s in alone.items()},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
