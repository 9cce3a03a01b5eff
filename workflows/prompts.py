"""The prompts the workflows send to Claude.

Each system prompt carries an ``agentdeck-task:`` line (and, when asked, ``agentdeck-fault:`` and
``agentdeck-think:`` lines). Real Claude reads them as harmless context; the offline scripted model
uses them to pick its script and its injected faults. The user prompts use ``Topic:`` /
``Question:`` / ``Q<n>:`` / ``A<n>:`` lines, which both read.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import STYLES, Answer, BranchResult, ClaudeCall, StepSettings

__all__ = [
    "branch_call",
    "fault_for_question",
    "fault_for_target",
    "judge_call",
    "plan_call",
    "research_call",
    "synthesize_call",
    "with_instructions",
]


def fault_for_target(spec: str, index: int, target: str, *, as_task: str = "") -> str:
    """The part of a fault spec that applies to call ``index`` (0-based) of a fan-out.

    Items written ``<target>@N.kind`` apply to call N (1-based) only, as ``<as_task>.kind`` (or
    plain ``kind``); the other items apply to every call.
    """
    keep = []
    prefix = f"{target}@"
    for item in (i.strip() for i in spec.split(",")):
        if not item:
            continue
        if item.startswith(prefix):
            n, _, rest = item.removeprefix(prefix).partition(".")
            if n.isdigit() and int(n) == index + 1 and rest:
                keep.append(f"{as_task}.{rest}" if as_task else rest)
            continue
        keep.append(item)
    return ",".join(keep)


def fault_for_question(spec: str, index: int) -> str:
    """``research@N.kind`` items target research question N (1-based) only."""
    return fault_for_target(spec, index, "research", as_task="research")


def _system(task: str, instructions: str, *, fault: str = "", think: bool = False) -> str:
    lines = [instructions, "", f"agentdeck-task: {task}"]
    if fault:
        lines.append(f"agentdeck-fault: {fault}")
    if think:
        lines.append("agentdeck-think: on")
    return "\n".join(lines)


def plan_call(topic: str, n: int, *, model: str, fault: str = "") -> ClaudeCall:
    return ClaudeCall(
        task="plan",
        model=model,
        fault=fault,
        think=True,
        system=_system(
            "plan",
            "You are a research planner. Reply with ONLY a JSON object of the form "
            '{"questions": ["...", ...]} holding exactly the requested number of distinct, '
            "specific research questions. No prose, no code fences.",
            fault=fault,
            think=True,
        ),
        prompt=f"Topic: {topic}\nQuestions: {n}",
    )


def research_call(
    topic: str, question: str, *, model: str, fault: str = "", tools: Sequence[str] = ()
) -> ClaudeCall:
    """A research question; with ``tools`` Claude may use those tools (under the tool policy),
    over up to 10 turns, and the system prompt carries an ``agentdeck-tools:`` line."""
    instructions = (
        "You are a careful researcher. Answer the question in two to four paragraphs of "
        "Markdown prose, concretely, for an engineer."
    )
    if tools:
        instructions += (
            f" You may use these tools where they help: {', '.join(tools)}. A call may need a "
            "human's approval or be denied; if it is denied, do without it."
        )
    system = _system("research", instructions, fault=fault)
    if tools:
        system += f"\nagentdeck-tools: {','.join(tools)}"
    return ClaudeCall(
        task="research",
        model=model,
        fault=fault,
        system=system,
        prompt=f"Topic: {topic}\nQuestion: {question}",
        tools=tuple(tools),
        max_turns=10 if tools else 1,
    )


def synthesize_call(
    topic: str, answers: Sequence[Answer], *, model: str, fault: str = ""
) -> ClaudeCall:
    blocks = []
    for a in answers:
        body = a.text if a.ok else f"(failed: {a.error})"
        blocks.append(f"Q{a.index + 1}: {a.question}\nA{a.index + 1}: {body}")
    return ClaudeCall(
        task="synthesize",
        model=model,
        fault=fault,
        think=True,
        system=_system(
            "synthesize",
            "You write research reports. Using the answers given, write a Markdown report with a "
            "title, a short summary, one section per question (say so plainly where an answer "
            "failed), and a conclusion.",
            fault=fault,
            think=True,
        ),
        prompt=f"Topic: {topic}\n\n" + "\n\n".join(blocks),
    )


def with_instructions(call: ClaudeCall, settings: StepSettings | None) -> ClaudeCall:
    """A call with a fork's changed settings: another model, extra instructions.

    The instructions go at the top of the user prompt (both real Claude and the offline model
    read them there; the offline model's answer depends on the prompt, so it changes too).
    """
    if settings is None or settings.empty:
        return call
    update: dict[str, object] = {}
    if settings.model:
        update["model"] = settings.model
    if settings.instructions:
        update["prompt"] = f"Instructions: {settings.instructions}\n\n{call.prompt}"
    return call.model_copy(update=update)


def branch_call(question: str, style: str, *, model: str, fault: str = "") -> ClaudeCall:
    """One fork-compare branch: the question answered in the branch's style."""
    return ClaudeCall(
        task="research",
        model=model,
        fault=fault,
        system=_system(
            "research",
            f"You are a careful researcher. {STYLES.get(style, STYLES['balanced'])}",
            fault=fault,
        ),
        prompt=f"Topic: {question}\nQuestion: {question}\nStyle: {style}",
    )


def judge_call(
    question: str, branches: Sequence[BranchResult], *, model: str, fault: str = ""
) -> ClaudeCall:
    """The judge of a fork-compare run sees every branch that answered, labelled."""
    blocks = [f"Answer {b.label}: ({b.model}, {b.style})\n{b.text}" for b in branches if b.ok]
    return ClaudeCall(
        task="judge",
        model=model,
        fault=fault,
        think=True,
        system=_system(
            "judge",
            "You compare answers to one question on accuracy, specificity and clarity. Start "
            "with a '## Verdict' heading, name the strongest answer by its label in bold, then "
            "one bullet per answer.",
            fault=fault,
            think=True,
        ),
        prompt=f"Question: {question}\n\n" + "\n\n".join(blocks),
    )
