"""How many DBOS stream writes the Claude step makes, against how many per-token writes would be.

Runs research workflows end to end through the REAL bundled Claude Code CLI and the offline
loopback model server (paced at 80 tokens/s, then at 400 tokens/s), auto-approving each plan with
``Supervisor.answer``, on a temporary SQLite file. Then, per step attempt (one stream per
attempt: a workflow's ``agentdeck.output`` entries with that step id and attempt):

* writes: the stream entries the coalescing writer made (one per ~100 ms flush);
* streaming duration: first to last entry carrying model output (thinking, text, tool use);
* tokens: the offline server's ``output_tokens`` for the request behind the attempt (matched by
  task and token count; the streamed text re-split into the server's pieces must agree);
* the gap between consecutive entries (``ts`` to ``ts``): a token waits in the buffer at most
  one gap (plus the write itself), so this bounds token-to-stream latency.

Usage: ``python bench/stream_writes.py [--quick]``
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchkit import emit, parse_args, quiet_logging, summary, temp_dir

from tui.supervisor import Supervisor
from workflows.model_offline import RequestRecord
from workflows.model_offline.script import split_pieces
from workflows.models import ApprovalAnswer, ApprovalDecision, ChunkKind, StreamChunk
from workflows.runtime import Runtime, RuntimeSettings

TOPIC = "durable execution for long-running AI agents"
#: Chunk kinds that carry model output (the status and usage lines do not).
OUTPUT_KINDS = {ChunkKind.THINKING, ChunkKind.TEXT, ChunkKind.TOOL_USE, ChunkKind.TOOL_RESULT}
RUN_TIMEOUT_S = 120.0
#: Attempts streaming for less than this are left out of the writes/s figures (too few intervals;
#: the final flush at close is immediate), but not out of the one-second window counts.
MIN_RATE_WINDOW_S = 0.3


def _max_in_window(stamps: list[float], width: float) -> int:
    """The most entries whose timestamps fall within any ``width``-second window."""
    ordered = sorted(stamps)
    best = lo = 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


@dataclass
class Attempt:
    """One step attempt's stream entries."""

    workflow_id: str
    step_id: int
    step_name: str
    attempt: int
    chunks: list[StreamChunk] = field(default_factory=list)
    tokens: int = 0

    @property
    def output_chunks(self) -> list[StreamChunk]:
        return [c for c in self.chunks if any(p.kind in OUTPUT_KINDS for p in c.parts)]

    def pieces(self) -> int:
        """Token pieces of the streamed output, split as the offline server splits them."""
        total = 0
        for kind in OUTPUT_KINDS:
            text = "".join(p.text for c in self.chunks for p in c.parts if p.kind is kind)
            total += len(split_pieces(text))
        return total


async def _run_one(sup: Supervisor, questions: int) -> str:
    res = await sup.launch("research", {"topic": TOPIC, "questions": questions})
    wid = res.workflow_id
    assert wid is not None
    approved = False
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        row = await sup.get_row(wid)
        if row.waiting_approval and not approved:
            answer = ApprovalAnswer(decision=ApprovalDecision.APPROVE, by="bench")
            await sup.answer(wid, answer)
            approved = True
        if not row.active:
            if row.status != "SUCCESS":
                raise RuntimeError(f"{wid} ended {row.status}")
            return wid
        if time.monotonic() > deadline:
            raise RuntimeError(f"{wid} still {row.status} after {RUN_TIMEOUT_S:g} s")
        await asyncio.sleep(0.05)


async def _all_chunks(sup: Supervisor, wids: list[str]) -> dict[str, list[StreamChunk]]:
    """Every stream entry of the given workflows (read in pages, as the detail screen does)."""
    offsets = dict.fromkeys(wids, 0)
    out: dict[str, list[StreamChunk]] = defaultdict(list)
    while offsets:
        batches = await sup.read_streams(offsets)
        progressed = {}
        for b in batches:
            out[b.workflow_id].extend(b.chunks)
            if b.next_offset > offsets[b.workflow_id] and not b.closed:
                progressed[b.workflow_id] = b.next_offset
        offsets = progressed
    return out


def _match_tokens(attempts: list[Attempt], records: list[RequestRecord]) -> tuple[int, int]:
    """Tokens per attempt from the server log; returns (matched, mismatched piece counts)."""
    free = [r for r in records if r.outcome == "completed" and r.status == 200]
    matched = disagree = 0
    for a in attempts:
        first = a.output_chunks[0].ts if a.output_chunks else 0.0
        same = [r for r in free if r.task == a.step_name]
        exact = [r for r in same if r.output_tokens == a.pieces()]
        pool = exact or same
        if not pool:
            a.tokens = a.pieces()
            continue
        best = min(pool, key=lambda r: abs(r.started - first))
        free.remove(best)
        a.tokens = best.output_tokens
        matched += 1
        disagree += 0 if exact else 1
    return matched, disagree


async def run_pass(tps: float, runs: int, questions: int, root: Path) -> dict[str, Any]:
    db_url = f"sqlite:///{root / f'stream-writes-{tps:g}.sqlite'}"
    rt = Runtime(
        RuntimeSettings(
            db_url=db_url,
            offline=True,
            offline_tps=tps,
            state_dir=root / "state",
            polling_interval_s=0.05,
            transport_factory=None,
        )
    )
    await asyncio.to_thread(rt.launch)
    quiet_logging(root / "state")
    sup = Supervisor(db_url)
    started = time.monotonic()
    try:
        await sup.connect()
        roots = await asyncio.gather(*(_run_one(sup, questions) for _ in range(runs)))
        wall = time.monotonic() - started
        rows = await sup.list_workflows(limit=1000)
        wids = [r.workflow_id for r in rows]
        assert set(roots) <= set(wids)
        records: list[RequestRecord] = rt.offline_server.requests()
        chunks = await _all_chunks(sup, wids)
    finally:
        await sup.close()
        await asyncio.to_thread(rt.shutdown)

    by_attempt: dict[tuple[str, int, int], Attempt] = {}
    for wid, entries in chunks.items():
        for c in entries:
            key = (wid, c.step_id, c.attempt)
            if key not in by_attempt:
                by_attempt[key] = Attempt(wid, c.step_id, c.step_name, c.attempt)
            by_attempt[key].chunks.append(c)
    attempts = [a for a in by_attempt.values() if a.output_chunks]
    for a in attempts:
        a.chunks.sort(key=lambda c: c.seq)
    matched, disagree = _match_tokens(attempts, records)

    rates: list[float] = []
    per_token_rates: list[float] = []
    window_max: list[float] = []
    gaps: list[float] = []
    total_writes = output_writes = total_tokens = 0
    streaming_s = 0.0
    for a in attempts:
        out = a.output_chunks
        total_writes += len(a.chunks)
        output_writes += len(out)
        total_tokens += a.tokens
        duration = out[-1].ts - out[0].ts
        streaming_s += duration
        if len(out) >= 2 and duration >= MIN_RATE_WINDOW_S:
            rates.append((len(out) - 1) / duration)
            per_token_rates.append(a.tokens / duration)
        window_max.append(float(_max_in_window([c.ts for c in a.chunks], 1.0)))
        gaps += [b.ts - p.ts for p, b in zip(out, out[1:], strict=False)]
    longest = max(attempts, key=lambda a: a.tokens)
    per_1k = 1000.0 * total_writes / total_tokens if total_tokens else 0.0
    return {
        "tps": tps,
        "runs": runs,
        "questions": questions,
        "wall_s": round(wall, 2),
        "attempts": len(attempts),
        "tokens": total_tokens,
        "tokens_from_server_log": matched,
        "token_count_mismatches": disagree,
        "writes": total_writes,
        "output_writes": output_writes,
        "streaming_s": round(streaming_s, 2),
        "writes_per_s": summary(rates),
        "writes_per_1k_tokens": round(per_1k, 1),
        "per_token_writes_per_1k_tokens": 1000.0,
        "per_token_writes_per_s": summary(per_token_rates, digits=1),
        "write_reduction_x": round(total_tokens / total_writes, 1) if total_writes else None,
        "gap_ms": summary(gaps, scale=1000.0, digits=1),
        "max_writes_in_any_1s": summary(window_max, digits=0),
        "longest_attempt": {
            "step": longest.step_name,
            "tokens": longest.tokens,
            "writes": len(longest.chunks),
        },
    }


def _print_pass(p: dict[str, Any]) -> None:
    w, g, pt = p["writes_per_s"], p["gap_ms"], p["per_token_writes_per_s"]
    m = p["max_writes_in_any_1s"]
    print(
        f"\n== {p['tps']:g} tokens/s: {p['runs']} run(s) x {p['questions']} question(s), "
        f"{p['attempts']} step attempts, {p['wall_s']} s wall"
    )
    print(
        f"  tokens streamed        {p['tokens']} (server log for {p['tokens_from_server_log']}/"
        f"{p['attempts']} attempts; {p['token_count_mismatches']} re-split mismatches)"
    )
    print(
        f"  stream writes          {p['writes']} ({p['output_writes']} carrying output) over "
        f"{p['streaming_s']} s of streaming"
    )
    print(
        f"  writes/s per stream    p50 {w['p50']}  max {w['max']}  (n={w['n']} attempts "
        f"streaming >= {MIN_RATE_WINDOW_S:g} s)"
    )
    print(f"  most writes in any 1 s p50 {m['p50']:g}  max {m['max']:g}  (n={m['n']} streams)")
    print(f"  per-token would be     p50 {pt['p50']}  max {pt['max']} writes/s")
    print(
        f"  writes per 1k tokens   {p['writes_per_1k_tokens']}  (per-token: 1000; "
        f"{p['write_reduction_x']}x fewer)"
    )
    print(
        f"  entry-to-entry gap     p50 {g['p50']} ms  p99 {g['p99']} ms  max {g['max']} ms  "
        f"(bounds a token's wait in the buffer)"
    )


async def main() -> int:
    args = parse_args(__doc__ or "")
    if args.quick:
        plan = [(80.0, 1, 1), (400.0, 1, 1)]
    else:
        plan = [(80.0, 2, 3), (400.0, 1, 3)]
    print("stream_writes: research runs through the real Claude Code CLI + offline server")
    passes = []
    with temp_dir("bench-stream") as root:
        for tps, runs, questions in plan:
            p = await run_pass(tps, runs, questions, root)
            _print_pass(p)
            passes.append(p)
    emit(
        {
            "bench": "stream_writes",
            "quick": args.quick,
            "passes": passes,
            "max_writes_per_s": max(float(p["writes_per_s"]["max"] or 0) for p in passes),
            "max_writes_in_any_1s": max(int(p["max_writes_in_any_1s"]["max"] or 0) for p in passes),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
