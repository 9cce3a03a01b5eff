"""Many DBOS-shaped workflow rows in seconds: copies of a row DBOS itself wrote.

Seeding a million runs through DBOS takes hours here; the list only reads ``workflow_status``,
so a real run made through DBOS is the template and the copies differ in id, status and times
(one INSERT … SELECT over a generated series, on SQLite and PostgreSQL). The copies have no
steps, events or outputs of their own: they are for the list, counts and paging.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

__all__ = ["copy_rows"]

_VARIES = ("workflow_uuid", "status", "created_at", "updated_at", "completed_at")


def copy_rows(
    db_url: str,
    template_id: str,
    n: int,
    *,
    status: str = "SUCCESS",
    start_ms: int,
    step_ms: int = 1,
    prefix: str = "seed",
) -> None:
    """Insert ``n`` copies of ``template_id`` as ``{prefix}-{i:08d}``, created ``start_ms +
    i * step_ms``, with ``status`` (terminal copies complete 100 ms after they start)."""
    done = "NULL" if status in ("PENDING", "ENQUEUED", "DELAYED") else "t.c + 100"
    if db_url.startswith("sqlite"):
        path = re.sub(r"^sqlite(\+\w+)?:///", "", db_url)
        conn = sqlite3.connect(path, timeout=30)
        try:
            cols = [r[1] for r in conn.execute("PRAGMA table_info(workflow_status)")]
            rest = [c for c in cols if c not in _VARIES]
            conn.execute(
                f"""
                WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < ?),
                     t AS (SELECT g.i, ? + g.i * ? AS c FROM g)
                INSERT INTO workflow_status ({", ".join(_VARIES + tuple(rest))})
                SELECT ? || '-' || printf('%08d', t.i), ?, t.c, t.c, {done},
                       {", ".join("w." + c for c in rest)}
                FROM t, workflow_status w WHERE w.workflow_uuid = ?
                """,
                (n - 1, start_ms, step_ms, prefix, status, template_id),
            )
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", db_url)) as pg:
        cols = [
            str(r[0])
            for r in pg.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = 'dbos' AND table_name = 'workflow_status' "
                "ORDER BY ordinal_position"
            ).fetchall()
        ]
        rest = [c for c in cols if c not in _VARIES]
        quoted = ", ".join(f'w."{c}"' for c in rest)
        params: dict[str, Any] = {
            "n": n - 1,
            "start": start_ms,
            "step": step_ms,
            "prefix": prefix,
            "status": status,
            "t": template_id,
        }
        pg.execute(
            f"""
            INSERT INTO dbos.workflow_status
                ({", ".join(f'"{c}"' for c in _VARIES + tuple(rest))})
            SELECT %(prefix)s || '-' || lpad(g.i::text, 8, '0'), %(status)s, t.c, t.c,
                   {done}, {quoted}
            FROM generate_series(0, %(n)s) g(i)
            CROSS JOIN LATERAL (SELECT %(start)s::bigint + g.i * %(step)s::bigint AS c) t,
                 dbos.workflow_status w
            WHERE w.workflow_uuid = %(t)s
            """,
            params,
        )
        pg.commit()
