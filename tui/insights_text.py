"""``agentdeck stats`` as text: the insights screen's figures, one section each."""

from __future__ import annotations

import time

from .data.insights import Insights
from .formatting import duration

__all__ = ["cost_text", "stats_text"]


def cost_text(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 1 else f"${usd:.4f}"


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def stats_text(found: Insights) -> str:
    """Every section of ``found`` as aligned plain text."""
    rate = _rate(found)
    head = (
        f"{found.runs:,} runs from {_when(found.since)} to {_when(found.until)}"
        + (f" matching '{found.filter}'" if found.filter else "")
        + (f" · failure rate {rate}" if rate else "")
    )
    out = [head, ""]
    out.append(f"{'WORKFLOW':<24} {'RUNS':>6} {'OK':>6} {'FAILED':>6} {'P50':>8} {'P95':>8}")
    for s in found.by_name:
        failed = s.statuses.get("ERROR", 0) + s.statuses.get("MAX_RECOVERY_ATTEMPTS_EXCEEDED", 0)
        out.append(
            f"{s.name[:24]:<24} {s.count:>6} {s.statuses.get('SUCCESS', 0):>6} {failed:>6} "
            f"{duration(s.p50_s):>8} {duration(s.p95_s):>8}"
        )
    if found.by_step:
        out += ["", f"{'STEP':<24} {'CALLS':>6} {'P50':>8} {'P95':>8} {'MAX':>8}"]
        for s in found.by_step:
            out.append(
                f"{s.name[:24]:<24} {s.count:>6} {duration(s.p50_s):>8} "
                f"{duration(s.p95_s):>8} {duration(s.max_s):>8}"
            )
    if found.models:
        out += ["", f"{'MODEL':<24} {'CALLS':>6} {'TOKENS IN':>10} {'OUT':>8} {'COST':>10}"]
        for m in found.models:
            out.append(
                f"{m.model[:24]:<24} {m.calls:>6} {m.input_tokens + m.cache_tokens:>10} "
                f"{m.output_tokens:>8} {cost_text(m.cost_usd):>10}"
            )
    if found.waits:
        out += ["", f"{'APPROVALS':<24} {'ANSWERED':>8} {'P50':>8} {'P95':>8} {'OPEN':>5} LONGEST"]
        for w in found.waits:
            out.append(
                f"{w.kind:<24} {w.answered:>8} {duration(w.p50_s):>8} {duration(w.p95_s):>8} "
                f"{w.open:>5} {duration(w.longest_open_s) if w.open else '-'}"
            )
    if found.queues:
        out += ["", f"{'QUEUE':<24} {'MAX DEPTH':>9} {'OLDEST WAIT':>12}"]
        for q in found.queues:
            out.append(
                f"{q.queue[:24]:<24} {max(q.depth, default=0):>9} "
                f"{duration(max(q.oldest_s, default=0.0)):>12}"
            )
    if found.errors:
        out += ["", f"{'ERRORS':>6}  NEWEST RUN                 FIRST LINE"]
        for e in found.errors:
            out.append(f"{e.count:>6}  {e.newest_id[:26]:<26} {e.first_line[:90]}")
    if found.capped:
        out += ["", "(cost and errors read from the newest runs only: the window has more)"]
    return "\n".join(out)


def _rate(found: Insights) -> str:
    failed = sum(b.failed for b in found.buckets)
    ended = sum(b.succeeded + b.failed + b.cancelled for b in found.buckets)
    return f"{failed / ended:.0%}" if ended else ""
