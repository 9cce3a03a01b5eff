"""Guards that pause a run and ask, instead of killing it: budgets (and the loop guard's setting).

A research or compare run may have a budget in USD and/or tokens (the launch form, ``agentdeck
launch --budget-usd/--budget-tokens``, or the ``guards:`` default in ``agentdeck.yaml``). Before
each Claude phase the workflow adds what it has spent (the usage its steps recorded) to a
conservative estimate of the next calls (:func:`estimate`); when that would pass the budget it
publishes an approval of kind ``budget`` and waits in ``recv`` for one of four answers:

* ``raise``: a new budget (USD and/or tokens); the check runs again with it;
* ``continue``: this phase runs once over the budget; the next phase checks again;
* ``switch``: the rest of the run uses another model (as a fork with settings would);
* ``stop``: the run ends SUCCESS with outcome ``stopped at budget`` and a partial report.

No answer by the approval deadline means stop. Everything the decision reads is recorded (step
results, the configured default read in a step, the answer received), so a replay takes the same
branch. Inside a step the SDK's own ``max_budget_usd`` caps one runaway call at what is left of
the budget (:func:`call_cap`); a call stopped that way raises
:class:`~workflows.claude.ClaudeBudgetStop` and is not retried.

The ``guards:`` section::

    guards:
      budget_usd: 0.50        # default budget of research and compare runs (none if absent)
      budget_tokens: 200000
      loop_tool_calls: 8      # tool calls with no new text in between that pause a question
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dbos import DBOS
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .approvals import ApprovalTimeout, ask
from .config import ConfigError, config_path, section
from .models import ApprovalDecision, StepUsage

__all__ = [
    "Budget",
    "BudgetVerdict",
    "GuardsConfig",
    "budget_guard",
    "budget_prompt",
    "call_cap",
    "estimate",
    "load_guards",
    "resolve_guards",
    "spent",
]

SECTION = "guards"


class GuardsConfig(BaseModel):
    """The ``guards:`` section."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    budget_usd: float | None = Field(default=None, gt=0, le=10_000)
    budget_tokens: int | None = Field(default=None, gt=0, le=1_000_000_000)
    loop_tool_calls: int = Field(default=8, ge=2, le=1000)


def load_guards(path: Path | None = None) -> GuardsConfig:
    where = path or config_path()
    raw = section(SECTION, where)
    try:
        return GuardsConfig.model_validate(raw or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{where}: {SECTION}.{loc}: {first['msg']}") from None


@dataclass(frozen=True)
class Budget:
    usd: float | None = None
    tokens: int | None = None

    @property
    def set(self) -> bool:
        return bool(self.usd or self.tokens)

    def text(self) -> str:
        parts = ([f"${self.usd:.4f}"] if self.usd else []) + (
            [f"{self.tokens:,} tokens"] if self.tokens else []
        )
        return " and ".join(parts) or "none"


@DBOS.step(name="guards")
async def resolve_guards(
    usd: float | None, tokens: int | None
) -> tuple[float | None, int | None, int]:
    """The run's budget (its own, else the ``guards:`` default) and the loop guard's N.

    A step: a replay sees what the configuration said when the run started.
    """
    cfg = load_guards()
    if usd is None and tokens is None:
        usd, tokens = cfg.budget_usd, cfg.budget_tokens
    return usd, tokens, cfg.loop_tool_calls


# --------------------------------------------------------------------------------------------
# The estimate

#: Tokens one call of each task is assumed to take (in, out) before any such call has run: about
#: twice what the offline model and typical Claude answers use, so the first check errs high.
PRIOR_TOKENS: dict[str, tuple[int, int]] = {
    "plan": (1500, 400),
    "research": (2000, 1200),
    "synthesize": (4000, 2000),
    "answer": (1500, 1200),
    "judge": (5000, 1000),
}
#: USD per million tokens (in, out) by model family; an unknown model is priced as the dearest.
PRICES: dict[str, tuple[float, float]] = {
    "opus": (15.0, 75.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
}
#: A recorded step of the same task is assumed to cost this much more next time.
MARGIN = 1.5


def _price(model: str) -> tuple[float, float]:
    low = model.lower()
    for family, price in PRICES.items():
        if family in low:
            return price
    return PRICES["opus"]


def _task_of(step: str) -> str:
    return step.split()[0] if step else step


def spent(steps: Sequence[StepUsage]) -> tuple[float, int]:
    """(USD, tokens in + out) recorded so far."""
    return (
        sum(s.cost_usd for s in steps),
        sum(s.usage.input_tokens + s.usage.output_tokens for s in steps),
    )


def estimate(
    task: str, model: str, steps: Sequence[StepUsage], calls: int = 1
) -> tuple[float, int]:
    """A conservative (USD, tokens) for ``calls`` more calls of ``task`` on ``model``: the larger
    of the prior for the task and the dearest recorded call of that task times :data:`MARGIN`."""
    tin, tout = PRIOR_TOKENS.get(task, (3000, 1500))
    pin, pout = _price(model)
    usd = (tin * pin + tout * pout) / 1e6
    tokens = tin + tout
    for s in steps:
        if _task_of(s.step) == task:
            usd = max(usd, s.cost_usd * MARGIN)
            tokens = max(tokens, int((s.usage.input_tokens + s.usage.output_tokens) * MARGIN))
    return round(usd * calls, 6), tokens * calls


def call_cap(budget: Budget, steps: Sequence[StepUsage], task: str, model: str) -> float | None:
    """The SDK's ``max_budget_usd`` for one call of ``task``: what is left of the USD budget, but
    at least twice the call's estimate (a run let past its budget can still make the call; only a
    runaway one is stopped). None without a USD budget."""
    if not budget.usd:
        return None
    left = budget.usd - spent(steps)[0]
    return round(max(left, 2 * estimate(task, model, steps)[0]), 6)


# --------------------------------------------------------------------------------------------
# The guard point


def budget_prompt(
    phase: str,
    usd: float,
    tokens: int,
    budget: Budget,
    calls: int,
    model: str,
    est_usd: float,
    est_tokens: int,
    remaining: int,
) -> str:
    """What a budget approval asks."""
    return (
        f"Budget reached before {phase}: spent ${usd:.4f} ({tokens:,} tokens) of "
        f"{budget.text()}; the next {calls} call{'s' if calls != 1 else ''} on {model} "
        f"may cost about ${est_usd:.4f} ({est_tokens:,} tokens); {remaining} Claude "
        f"call{'s' if remaining != 1 else ''} left in the run.\n\n"
        "Raise the budget, continue once, switch the rest of the run to another model, "
        "or stop with a partial report?"
    )


@dataclass(frozen=True)
class BudgetVerdict:
    action: Literal["go", "stop"]
    budget: Budget
    model: str
    note: str = ""


def _over(budget: Budget, usd: float, tokens: int) -> bool:
    return bool((budget.usd and usd > budget.usd) or (budget.tokens and tokens > budget.tokens))


async def budget_guard(
    budget: Budget,
    steps: Sequence[StepUsage],
    *,
    phase: str,
    task: str,
    model: str,
    calls: int,
    remaining: int,
    timeout_s: float,
) -> BudgetVerdict:
    """Check the next phase against the budget; ask (kind ``budget``) when it would pass it.

    ``phase`` names the guard point (unique per run: it is part of the approval's topic),
    ``calls`` the Claude calls the phase makes, ``remaining`` those left in the run.
    """
    asked = 0
    while True:
        usd, tokens = spent(steps)
        est_usd, est_tokens = estimate(task, model, steps, calls)
        if not budget.set or not _over(budget, usd + est_usd, tokens + est_tokens):
            return BudgetVerdict("go", budget, model)
        topic = f"budget:{phase}" + (f":{asked}" if asked else "")
        prompt = budget_prompt(
            phase, usd, tokens, budget, calls, model, est_usd, est_tokens, remaining
        )
        try:
            answer = await ask(
                topic=topic,
                prompt=prompt,
                timeout_s=timeout_s,
                kind="budget",
                options=(
                    ApprovalDecision.RAISE,
                    ApprovalDecision.CONTINUE,
                    ApprovalDecision.SWITCH,
                    ApprovalDecision.STOP,
                ),
                proposal={
                    "phase": phase,
                    "spent_usd": round(usd, 6),
                    "spent_tokens": tokens,
                    "estimate_usd": est_usd,
                    "estimate_tokens": est_tokens,
                    "budget_usd": budget.usd,
                    "budget_tokens": budget.tokens,
                    "remaining_steps": remaining,
                    "model": model,
                },
            )
        except ApprovalTimeout:
            return BudgetVerdict(
                "stop", budget, model, f"nobody answered the budget approval before {phase}"
            )
        asked += 1
        who = f" by {answer.by}" if answer.by else ""
        if answer.decision is ApprovalDecision.RAISE:
            budget = Budget(answer.budget_usd or budget.usd, answer.budget_tokens or budget.tokens)
            continue
        if answer.decision is ApprovalDecision.CONTINUE:
            return BudgetVerdict("go", budget, model, f"continued over the budget{who}")
        if answer.decision is ApprovalDecision.SWITCH and answer.model:
            return BudgetVerdict("go", budget, answer.model, f"switched to {answer.model}{who}")
        return BudgetVerdict("stop", budget, model, f"stopped at the budget before {phase}{who}")
