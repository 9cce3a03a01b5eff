"""Stream latency: from a chunk written in a DBOS step to the data layer reading it.

A tiny workflow defined here runs one step that writes N chunks at ~20 per second with
``DBOS.write_stream_async`` exactly as the Claude step does (PORTABLE serialization, the value a
``StreamChunk`` dict whose ``ts`` is stamped just before the write), on a temporary SQLite file.
Meanwhile, in the same process and on the same stream, three readers record ``now - ts`` for each
chunk as it first reaches them:

* ``supervisor``: ``Supervisor.read_streams({wid: offset})`` every 50 ms, as the detail screen;
* ``client``: ``DBOSClient.read_stream_async`` with its default polling interval;
* ``embedded``: ``DBOS.read_stream_async`` in the executing process (DBOS's own notifications).

``--pg`` runs the same on PostgreSQL (a fresh database on a throwaway server, or on
``$AGENTDECK_TEST_PG_URL``'s server): DBOS's system database, the Supervisor and both readers there.

Usage: ``python bench/stream_latency.py [--quick] [--pg]``
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, quiet_logging, summary, temp_dir
from dbos import DBOS
from dbos._serialization import WorkflowSerializationFormat

from tui.supervisor import Supervisor
from workflows.model_offline.transport import transport_factory
from workflows.models import STREAM_KEY, ChunkKind, ChunkPart, StreamChunk
from workflows.runtime import Runtime, RuntimeSettings

WRITE_RATE = 20.0  # chunks per second, about what the coalescer writes at full tilt (<= 10/stream)
READ_INTERVAL_S = 0.05  # the detail screen's tick
#: About one flush's worth of text at 80 tokens/s.
TEXT = "one coalesced flush of about eight tokens of model output. "


@DBOS.step(name="bench.write_chunks")
async def write_chunks(n: int, rate: float) -> int:
    status = DBOS.step_status
    step_id = status.step_id if status is not None else 0
    start = time.monotonic()
    for seq in range(n):
        chunk = StreamChunk(
            step_id=step_id,
            step_name="bench",
            attempt=1,
            seq=seq,
            parts=(ChunkPart(kind=ChunkKind.TEXT, text=TEXT),),
        )
        await DBOS.write_stream_async(
            STREAM_KEY,
            chunk.model_dump(mode="json"),
            serialization_type=WorkflowSerializationFormat.PORTABLE,
        )
        await asyncio.sleep(max(0.0, start + (seq + 1) / rate - time.monotonic()))
    return n


@DBOS.workflow(name="bench.stream_latency")
async def stream_writer(n: int, rate: float) -> int:
    return await write_chunks(n, rate)


Recorder = Callable[[Any], None]


def _recorder(latencies: list[float], seen: set[int]) -> Recorder:
    def record(value: Any) -> None:
        now = time.time()
        if isinstance(value, StreamChunk):
            seq, ts = value.seq, value.ts
        elif isinstance(value, dict) and "ts" in value:
            seq, ts = int(value["seq"]), float(value["ts"])
        else:
            return
        if seq not in seen:
            seen.add(seq)
            latencies.append(now - ts)

    return record


async def supervisor_reader(sup: Supervisor, wid: str, n: int, record: Recorder) -> int:
    """The detail screen's loop: one ``read_streams`` per 50 ms tick; returns the query count."""
    offset = got = queries = 0
    while got < n:
        batches = await sup.read_streams({wid: offset})
        queries += 1
        for b in batches:
            offset = b.next_offset
            for c in b.chunks:
                record(c)
                got += 1
            if b.closed:
                return queries
        await asyncio.sleep(READ_INTERVAL_S)
    return queries


async def client_reader(sup: Supervisor, wid: str, n: int, record: Recorder) -> int:
    got = 0
    async for value in sup.client.read_stream_async(wid, STREAM_KEY):
        record(value)
        got += 1
        if got >= n:
            break
    return got


async def embedded_reader(sup: Supervisor, wid: str, n: int, record: Recorder) -> int:
    got = 0
    async for value in DBOS.read_stream_async(wid, STREAM_KEY):
        record(value)
        got += 1
        if got >= n:
            break
    return got


READERS: dict[str, Callable[[Supervisor, str, int, Recorder], Awaitable[int]]] = {
    "supervisor": supervisor_reader,
    "client": client_reader,
    "embedded": embedded_reader,
}


async def run(n: int, root: Path, db_url: str) -> dict[str, Any]:
    rt = Runtime(
        RuntimeSettings(
            db_url=db_url,
            offline=True,
            state_dir=root / "state",
            polling_interval_s=0.05,
            transport_factory=transport_factory,  # no model calls here: no server, no CLI
        )
    )
    await asyncio.to_thread(rt.launch)
    quiet_logging(root / "state")
    sup = Supervisor(db_url)
    await sup.connect()
    latencies: dict[str, list[float]] = {name: [] for name in READERS}
    try:
        handle = await DBOS.start_workflow_async(stream_writer, n, WRITE_RATE)
        wid = handle.workflow_id
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                asyncio.wait_for(fn(sup, wid, n, _recorder(latencies[name], set())), 60 + n)
                for name, fn in READERS.items()
            )
        )
        wall = time.monotonic() - started
        assert await handle.get_result() == n
        poll_queries = results[0]
        client_interval = float(sup.client._sys_db._notification_listener_polling_interval_sec)
    finally:
        await sup.close()
        await asyncio.to_thread(rt.shutdown)
    return {
        "chunks": n,
        "write_rate_per_s": WRITE_RATE,
        "wall_s": round(wall, 2),
        "supervisor_read_interval_ms": READ_INTERVAL_S * 1000,
        "supervisor_queries": poll_queries,
        "client_polling_interval_s": client_interval,
        "latency_ms": {
            name: summary(values, scale=1000.0, digits=1) for name, values in latencies.items()
        },
    }


async def main() -> int:
    args = parse_args(__doc__ or "", pg=True)
    n = 40 if args.quick else 200
    backend = "postgresql" if args.pg else "sqlite"
    print(
        f"stream_latency: {n} chunks at {WRITE_RATE:g}/s, written in a DBOS step, read three ways"
        f" ({backend})"
    )
    pg: dict[str, object] | None = None
    with temp_dir("bench-latency") as root:
        if args.pg:
            from benchkit.pg import pg_database

            with pg_database() as db:
                pg = db.describe()
                result = await run(n, root, db.url)
        else:
            result = await run(n, root, f"sqlite:///{root / 'stream-latency.sqlite'}")
    labels = {
        "supervisor": "Supervisor.read_streams every 50 ms",
        "client": "DBOSClient.read_stream_async (default polling)",
        "embedded": "DBOS.read_stream_async (in the executor)",
    }
    print("  write -> read latency (ms)")
    for name, s in result["latency_ms"].items():
        print(
            f"  {labels[name]:<48} p50 {s['p50']:>7}  p99 {s['p99']:>7}  max {s['max']:>7}  "
            f"(n={s['n']})"
        )
    print(
        f"  supervisor: {result['supervisor_queries']} read_streams queries in {result['wall_s']} s"
    )
    if pg is not None:
        print(f"  PostgreSQL {pg['version']} ({pg['server']})")
    emit({"bench": "stream_latency", "quick": args.quick, "backend": backend, "pg": pg, **result})
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
