"""Recorded insights for the screenshots and snapshot tests (the canned source serves
them through ``RecordedInsights``): a day of research and compare runs on two models, fixed so
the pictures never change. The runs named here are runs of the canned list, so enter opens
them. The filter is not applied to recorded figures."""

from __future__ import annotations

from tui.data.insights import (
    Bucket,
    ErrorGroup,
    Expensive,
    Histogram,
    Insights,
    InsightsQuery,
    ModelUsage,
    QueueLoad,
    Spread,
    StepCost,
    Wait,
    window_of,
)

__all__ = ["canned_insights", "canned_step_costs"]

MODELS = ("claude-sonnet-4-5", "claude-opus-4-1")


def _wave(i: int, n: int, lo: int, hi: int) -> int:
    """A deterministic day-shaped curve: quiet at night, busy in the afternoon."""
    x = (i * 24 // max(n, 1)) % 24
    peak = 15
    return lo + (hi - lo) * max(0, 10 - abs(x - peak)) // 10


def canned_insights(query: InsightsQuery, now: float) -> Insights:
    span, bucket_s = window_of(query.window)
    since = (now - span) // bucket_s * bucket_s
    n = int(-(-(now - since) // bucket_s))
    buckets = []
    for i in range(n):
        started = _wave(i, n, 2, 24)
        failed = (i * 7) % 5 == 0 and started // 6 or i % 9 == 4 and 1 or 0
        cancelled = 1 if i % 11 == 3 else 0
        live = 3 if i == n - 1 else 0
        ok = max(0, started - failed - cancelled - live)
        sonnet = round(ok * 0.0135 + failed * 0.004, 4)
        opus = round(ok * 0.021 if i % 3 else 0.0, 4)
        buckets.append(
            Bucket(
                start=since + i * bucket_s,
                started=started,
                succeeded=ok,
                failed=failed,
                cancelled=cancelled,
                tokens={MODELS[0]: int(sonnet * 70_000), MODELS[1]: int(opus * 30_000)},
                cost={MODELS[0]: sonnet, MODELS[1]: opus},
            )
        )
    by_name = (
        Spread(
            "research",
            214,
            64.2,
            312.5,
            901.0,
            {"SUCCESS": 190, "ERROR": 11, "CANCELLED": 6, "PENDING": 7},
        ),
        Spread("research.question", 702, 9.4, 31.0, 88.2, {"SUCCESS": 689, "ERROR": 13}),
        Spread("compare", 38, 41.8, 120.4, 130.9, {"SUCCESS": 35, "ERROR": 3}),
        Spread("compare.branch", 121, 12.7, 44.0, 61.3, {"SUCCESS": 117, "ERROR": 4}),
    )
    by_step = (
        Spread("synthesize", 192, 14.1, 38.9, 52.0),
        Spread("research", 702, 8.9, 29.7, 85.5),
        Spread("judge", 36, 6.2, 17.3, 19.9),
        Spread("answer", 121, 7.7, 16.8, 40.2),
        Spread("plan", 212, 3.1, 9.8, 14.6),
    )
    selected = query.selected or ("name", "research")
    hist = Histogram(
        selected[0],
        selected[1],
        12.0,
        901.0,
        (3, 9, 21, 34, 41, 30, 22, 15, 11, 8, 6, 4, 3, 2, 2, 1, 1, 0, 0, 1),
    )
    cost = [sum(b.cost.get(m, 0.0) for b in buckets) for m in MODELS]
    tokens = [sum(b.tokens.get(m, 0) for b in buckets) for m in MODELS]
    models = (
        ModelUsage(MODELS[1], 301, tokens[1] * 2 // 3, tokens[1] // 3, 0, round(cost[1], 4)),
        ModelUsage(MODELS[0], 733, tokens[0] * 3 // 4, tokens[0] // 4, 0, round(cost[0], 4)),
    )
    top = (
        Expensive("research-c3d2a1b0f9e8", "research", "SUCCESS", 0.0412, now - 1800),
        Expensive("compare-4f1e2d3c5b6a", "compare", "SUCCESS", 0.0388, now - 5400),
        Expensive("research-1f0c8e2d9a44", "research", "PENDING", 0.0297, now - 95),
        Expensive("research-9a8b7c6d5e4f", "research", "ERROR", 0.0219, now - 3600),
        Expensive("research-c3d2a1b0f9e8~fork", "research", "SUCCESS", 0.0091, now - 600),
    )
    waits = (
        Wait("plan", 198, 42.0, 1260.0, 2, 48.0),
        Wait("tool", 57, 18.5, 340.2, 1, 20.0),
        Wait("recv", 4, 95.0, 600.0, 0, None),
    )
    queues = (
        QueueLoad(
            "agentdeck-launch",
            tuple(_wave(i, n, 0, 9) for i in range(n)),
            tuple(float(_wave(i, n, 0, 40)) for i in range(n)),
        ),
        QueueLoad(
            "agentdeck-research",
            tuple(_wave(i + 2, n, 0, 14) for i in range(n)),
            tuple(float(_wave(i + 2, n, 0, 95)) for i in range(n)),
        ),
    )
    errors = (
        ErrorGroup(
            "ResearchFailed: synthesis failed: invalid request (API error 400): API Error: 400 "
            "Invalid request (offline fault injection); not retried",
            7,
            "research-9a8b7c6d5e4f",
            now - 3600,
        ),
        ErrorGroup(
            "ResearchFailed: planning failed: authentication failed (API error 401)",
            3,
            "research-9a8b7c6d5e4f",
            now - 7000,
        ),
        ErrorGroup(
            "ApprovalTimeout: approval 'plan' timed out after 86400 s without an answer",
            1,
            "research-9a8b7c6d5e4f",
            now - 20000,
        ),
    )
    return Insights(
        window=query.window,
        filter=query.filter,
        since=since,
        until=now,
        bucket_s=bucket_s,
        buckets=tuple(buckets),
        by_name=by_name,
        by_step=by_step,
        models=models,
        top_cost=top,
        waits=waits,
        queues=queues,
        errors=errors,
        histogram=hist,
        statements=8,
    )


def canned_step_costs(workflow_id: str, now: float) -> list[StepCost]:
    """A three-question research run that finished half an hour ago (the canned DONE run)."""
    t = now - 1800
    rows = [
        ("", 6, "plan", 0.0, 4.1, 410, 190, 0.0031),
        ("-20", 1, "research", 17.2, 25.9, 1900, 820, 0.0126),
        ("-21", 1, "research", 17.3, 28.6, 1700, 610, 0.0094),
        ("-22", 1, "research", 17.3, 31.8, 2100, 1150, 0.0175),
        ("", 36, "synthesize", 45.1, 64.2, 3900, 980, 0.0186),
    ]
    return [
        StepCost(f"{workflow_id}{child}", fid, name, t + a, t + b, MODELS[0], i, o, c)
        for child, fid, name, a, b, i, o, c in rows
    ]
