"""The prompts the workflows send to Claude.

Each system prompt carries an ``agentdeck-task:`` line (and, when asked, ``agentdeck-fault:`` and
``agentdeck-think:`` lines). Real Claude reads them as harmless context; the offline scripted model
uses them to pick its script and its injected faults. The user prompts use ``Topic:`` /
``Question:`` / ``Q<n>:`` / ``A<n>:`` lines, which both read.
"""

from __future__ import annotations

from collections.abc import Sequence

from .models import Answer, ClaudeCall

__all__ = ["fault_for_question", "plan_call", "research_call", "synthesize_call"]


def fault_for_question(spec: str, index: int) -> str:
    """The part of a fault spec that applies to research question ``index`` (0-based).

    Items written ``research@N.kind`` apply to question N (1-based) only; others to every call.
    """
    keep = []
    for item in (i.strip() for i in spec.split(",")):
        if not item:
            continue
        if item.startswith("research@"):
            target, _, rest = item.removeprefix("research@").partition(".")
            if target.isdigit() and int(target) == index + 1 and rest:
                keep.append(f"research.{rest}")
            continue
        keep.append(item)
    return ",".join(keep)


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


def research_call(topic: str, question: str, *, model: str, fault: str = "") -> ClaudeCall:
    return ClaudeCall(
        task="research",
        model=model,
        fault=fault,
        system=_system(
            "research",
            "You are a careful researcher. Answer the question in two to four paragraphs of "
            "Markdown prose, concretely, for an engineer.",
            fault=fault,
        ),
        prompt=f"Topic: {topic}\nQuestion: {question}",
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
