"""The scripts the offline model follows: prompt parsing, deterministic answers, token pieces.

Everything here is pure and deterministic: the same ``(task, user prompt)`` always gives the same
answer, because every random choice is drawn from a ``random.Random`` seeded with a hash of both.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .faults import LOOP_REPEATS, loops

__all__ = [
    "KNOWN_TASKS",
    "Directives",
    "ParsedRequest",
    "ToolCall",
    "ToolOutcome",
    "next_tool_call",
    "tool_input",
    "tools_paragraph",
    "answer",
    "parse_request",
    "prompt_hash",
    "split_pieces",
    "thinking_for",
    "thinking_signature",
]

KNOWN_TASKS = frozenset({"plan", "research", "synthesize", "judge", "chat"})

_DIRECTIVE_RE = re.compile(
    r"^[ \t]*agentdeck-(task|fault|think|tools)[ \t]*:[ \t]*(.*?)[ \t]*$", re.M
)
_REMINDER_RE = re.compile(r"<system-reminder>.*?</system-reminder>\s*", re.S)
# What a ``/clear`` leaves at the start of the new conversation (a CLI kept between steps,
# workflows/cli_pool.py): the CLI's record of a local command, not part of the prompt.
_LOCAL_COMMAND_RE = re.compile(
    r"<(local-command-caveat|command-name|command-message|command-args|local-command-stdout)>"
    r".*?</\1>\s*",
    re.S,
)
# One piece per word, with the punctuation and whitespace that follow it; runs of punctuation
# (``{"``, ``["``) and leading whitespace are pieces of their own. The pieces join back exactly.
_PIECE_RE = re.compile(r"\w+[^\w\s]*\s*|[^\w\s]+\s*|\s+")


@dataclass(frozen=True)
class Directives:
    """The ``agentdeck-*`` lines found anywhere in the system text or the messages."""

    task: str = "chat"
    faults: tuple[str, ...] = ()
    think: bool = False
    #: ``agentdeck-tools: Bash,Read``: the tools to call, one per turn, before answering.
    tools: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolOutcome:
    """What came back for one of the model's tool calls (a ``tool_result`` block)."""

    name: str
    text: str
    is_error: bool


@dataclass(frozen=True)
class ParsedRequest:
    """What the server needs from a Messages API request body."""

    directives: Directives
    prompt: str  # the last user turn's own text, without system reminders or directive lines
    all_text: str  # every piece of prompt text (system, messages, tools), for the usage count
    model: str
    tool_calls: int = 0  # tool_use blocks the assistant has sent in this conversation
    tool_outcomes: tuple[ToolOutcome, ...] = ()  # their results, in order


def _block_texts(content: Any) -> Iterable[str]:
    """Yield the text of a message ``content`` (a string or a list of blocks, nested or not)."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                yield block
            elif isinstance(block, Mapping):
                text = block.get("text")
                if isinstance(text, str):
                    yield text
                inner = block.get("content")
                if inner is not None:
                    yield from _block_texts(inner)


def _directives(texts: Sequence[str]) -> Directives:
    task: str | None = None
    think = False
    faults: list[str] = []
    tools: tuple[str, ...] | None = None
    for text in texts:
        for match in _DIRECTIVE_RE.finditer(text):
            kind, value = match.group(1), match.group(2)
            if kind == "task" and task is None and value:
                task = value.split()[0].lower()
            elif kind == "tools" and tools is None:
                tools = tuple(t.strip() for t in value.split(",") if t.strip())
            elif kind == "think":
                think = think or value.lower() in {"on", "true", "yes", "1"}
            elif kind == "fault" and value and value not in faults:
                faults.append(value)
    return Directives(task=task or "chat", faults=tuple(faults), think=think, tools=tools or ())


def _clean_prompt(text: str) -> str:
    text = _REMINDER_RE.sub("", text)
    text = _LOCAL_COMMAND_RE.sub("", text)
    text = _DIRECTIVE_RE.sub("", text)
    return text.strip()


def parse_request(body: Mapping[str, Any]) -> ParsedRequest:
    """Pull the directives, the user prompt and the model out of a Messages API request body."""
    system_texts = list(_block_texts(body.get("system")))
    message_texts: list[str] = []
    last_user = ""
    messages = body.get("messages")
    if isinstance(messages, list):
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            texts = list(_block_texts(message.get("content")))
            message_texts.extend(texts)
            if message.get("role") == "user":
                own = [_clean_prompt(t) for t in _own_texts(message.get("content"))]
                own = [t for t in own if t]
                if own:
                    last_user = "\n".join(own)
    tools = body.get("tools")
    tool_text = json.dumps(tools) if tools else ""
    model = body.get("model")
    calls, outcomes = _tool_history(messages if isinstance(messages, list) else [])
    return ParsedRequest(
        directives=_directives(system_texts + message_texts),
        prompt=last_user,
        all_text="\n".join([*system_texts, *message_texts, tool_text]),
        model=model if isinstance(model, str) and model else "offline-model",
        tool_calls=calls,
        tool_outcomes=outcomes,
    )


def _tool_history(messages: list[Any]) -> tuple[int, tuple[ToolOutcome, ...]]:
    """How many tool calls the assistant made so far, and the results that came back."""
    names: dict[str, str] = {}
    calls = 0
    outcomes: list[ToolOutcome] = []
    for message in messages:
        if not isinstance(message, Mapping) or not isinstance(message.get("content"), list):
            continue
        for block in message["content"]:
            if not isinstance(block, Mapping):
                continue
            if block.get("type") == "tool_use" and message.get("role") == "assistant":
                calls += 1
                names[str(block.get("id"))] = str(block.get("name", "?"))
            elif block.get("type") == "tool_result":
                text = "\n".join(_block_texts(block.get("content")))
                outcomes.append(
                    ToolOutcome(
                        name=names.get(str(block.get("tool_use_id")), "?"),
                        text=text,
                        is_error=bool(block.get("is_error")),
                    )
                )
    return calls, tuple(outcomes)


def _own_texts(content: Any) -> Iterable[str]:
    """The text a user typed in a turn: strings and text blocks, but not tool results."""
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                yield block
            elif isinstance(block, Mapping) and block.get("type") == "text":
                text = block.get("text")
                if isinstance(text, str):
                    yield text


def prompt_hash(task: str, prompt: str) -> str:
    """A short stable hash of ``(task, prompt)``: the identity of a request for faults and seeds."""
    return hashlib.sha256(f"{task}\x00{prompt}".encode()).hexdigest()[:16]


def _rng(task: str, prompt: str, salt: str = "") -> random.Random:
    digest = hashlib.sha256(f"{salt}\x00{task}\x00{prompt}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def split_pieces(text: str) -> list[str]:
    """Split ``text`` into roughly one-token pieces that concatenate back to ``text``."""
    return _PIECE_RE.findall(text)


# --------------------------------------------------------------------------------------------
# Prompt fields


def _field(prompt: str, name: str) -> str | None:
    match = re.search(rf"^[ \t]*{re.escape(name)}[ \t]*:[ \t]*(.+?)[ \t]*$", prompt, re.M | re.I)
    return match.group(1) if match else None


def _first_line(prompt: str) -> str:
    for line in prompt.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _topic(prompt: str) -> str:
    topic = _field(prompt, "Topic")
    if topic:
        return topic
    first = _first_line(prompt)
    return first[:80] if first else "the topic"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------------------------
# plan

_QUESTION_TEMPLATES = (
    "What problem does {topic} solve, and for whom?",
    "How does {topic} work under the hood?",
    "What core concepts and vocabulary are needed to reason about {topic}?",
    "What trade-offs does {topic} impose on performance, cost, and complexity?",
    "What are the most common failure modes of {topic}, and how are they mitigated?",
    "How did {topic} emerge, and which earlier ideas does it build on?",
    "What alternatives to {topic} exist, and when is each preferable?",
    "How can the benefits of {topic} be measured in practice?",
    "Who has adopted {topic} in production, and what did they learn?",
    "What does a minimal but realistic implementation of {topic} look like?",
    "How does {topic} interact with security, privacy, and compliance requirements?",
    "Which operational practices keep a system built on {topic} healthy?",
    "How does {topic} behave at scale, and where does it stop scaling?",
    "What misconceptions about {topic} are most widespread?",
    "How should a team decide whether {topic} is worth adopting?",
    "What tooling and ecosystem support exists for {topic}?",
    "What are the open research problems in {topic}?",
    "Where is {topic} likely to go in the next five years?",
)


def plan_questions(topic: str, n: int, *, task: str = "plan", prompt: str = "") -> list[str]:
    """``n`` distinct research questions about ``topic``, in a sensible reading order."""
    rng = _rng(task, prompt or topic, "plan")
    count = len(_QUESTION_TEMPLATES)
    if n <= count:
        picked = sorted([0, *rng.sample(range(1, count), n - 1)]) if n > 0 else []
        return [_QUESTION_TEMPLATES[i].format(topic=topic) for i in picked]
    questions = [t.format(topic=topic) for t in _QUESTION_TEMPLATES]
    for extra in range(1, n - count + 1):
        questions.append(f"What else should a newcomer to {topic} know (angle {extra})?")
    return questions


def _plan(topic: str, prompt: str, *, valid: bool) -> str:
    raw = _field(prompt, "Questions")
    try:
        n = int(raw) if raw is not None else 5
    except ValueError:
        n = 5
    n = max(1, min(n, 50))
    questions = plan_questions(topic, n, prompt=prompt)
    if valid:
        return json.dumps({"questions": questions}, indent=2, ensure_ascii=False)
    listed = "; ".join(q.rstrip("?").lower() for q in questions)
    return (
        f"Here is how I would approach {topic}. I would start by asking {listed}. "
        "Each of these deserves its own investigation, and I am happy to dig into any of them."
    )


# --------------------------------------------------------------------------------------------
# research

_ANGLES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (
        ("problem", "why", "for whom", "purpose"),
        (
            "{Topic} exists because the naive approach breaks down as soon as real users, real "
            "failures and real deadlines enter the picture.",
            "The people who benefit most from {topic} are the teams that already feel the pain of "
            "doing the same work by hand, usually after an incident made that pain visible.",
            "Put simply, {topic} turns a recurring, error-prone chore into something a system "
            "guarantees, which frees engineers to work on the actual product.",
        ),
    ),
    (
        ("how does", "under the hood", "work", "implementation", "look like"),
        (
            "Under the hood, {topic} keeps a small amount of durable state and consults it before "
            "every step, so that the system always knows what has already happened.",
            "The mechanism is less magical than it sounds: {topic} records intent first, performs "
            "the work second, and confirms the outcome third.",
            "Most implementations of {topic} are built from a log, a scheduler and a set of "
            "idempotent handlers, and the interesting part is how those three agree.",
        ),
    ),
    (
        ("trade-off", "tradeoff", "cost", "performance", "scale", "scaling"),
        (
            "The main trade-off of {topic} is latency: every guarantee is paid for with an extra "
            "write, an extra round trip, or both.",
            "{Topic} also costs complexity, because engineers must learn which operations may be "
            "repeated safely and which may not.",
            "At scale the bottleneck of {topic} tends to be the shared state it depends on, not "
            "the computation itself.",
        ),
    ),
    (
        ("fail", "failure", "mitigat", "risk", "misconception"),
        (
            "The classic failure mode of {topic} is a step that is not idempotent being replayed "
            "after a crash, which duplicates its side effects.",
            "Another common problem is silent drift between the recorded state and reality, which "
            "{topic} cannot detect on its own.",
            "Mitigations for {topic} are mostly disciplined engineering: idempotency keys, "
            "bounded retries with backoff, and alerts on anything stuck for too long.",
        ),
    ),
    (
        ("concept", "vocabulary", "core", "misconception", "mental model"),
        (
            "The core vocabulary of {topic} is small: steps, recorded state, retries and "
            "idempotency, and most discussions reduce to how those four interact.",
            "Much of the confusion around {topic} disappears once 'at least once' and 'exactly "
            "once' are kept strictly apart.",
            "A useful way to think about {topic} is as a contract: the system promises to finish "
            "what it started, and the code promises that repeating a step is harmless.",
        ),
    ),
    (
        ("security", "privacy", "compliance", "operational", "healthy", "monitor"),
        (
            "Because {topic} records what happened, its stored state becomes an audit trail, and "
            "also a place where sensitive data can linger longer than intended.",
            "Operating {topic} well means watching queue depth, retry counts and the age of the "
            "oldest unfinished piece of work.",
            "Access to the state behind {topic} deserves the same care as access to the primary "
            "database, since replaying it can repeat real side effects.",
        ),
    ),
    (
        ("history", "emerge", "earlier", "origin"),
        (
            "The ideas behind {topic} are older than the name: transaction logs, sagas and "
            "write-ahead logging all solved parts of the same problem decades ago.",
            "{Topic} became popular when distributed systems made partial failure the normal case "
            "rather than the exception.",
        ),
    ),
    (
        ("alternative", "preferable", "compare", "versus", "vs"),
        (
            "The simplest alternative to {topic} is doing without it and accepting occasional "
            "manual cleanup, which is a reasonable choice for low-stakes work.",
            "Message queues with careful consumers cover part of what {topic} offers, at the cost "
            "of spreading the logic across many small services.",
        ),
    ),
    (
        ("measure", "metric", "benefit", "adopt", "production", "decide", "worth"),
        (
            "The most honest way to measure {topic} is by counting incidents and manual "
            "interventions before and after its introduction.",
            "Teams that adopted {topic} in production report fewer stuck jobs, but also a period "
            "of learning where the new failure modes surprised them.",
            "A useful adoption test for {topic} is whether a single failed step today costs more "
            "than an hour of an engineer's time to repair.",
        ),
    ),
    (
        ("open", "future", "next", "research", "tooling", "ecosystem"),
        (
            "Open problems in {topic} include versioning long-running work safely and making the "
            "recorded history easy to inspect.",
            "The tooling around {topic} is improving quickly, with better visualisation of running "
            "work and simpler local development setups.",
            "It is likely that {topic} will become a default building block rather than a "
            "specialist tool within a few years.",
        ),
    ),
)

_GENERAL = (
    "In practice, the details of {topic} matter more than the headline idea.",
    "A good mental model is to treat every step in {topic} as something that may run twice.",
    "Observability is what turns {topic} from a black box into something a team can trust.",
    "The best results with {topic} come from starting small and widening its use gradually.",
    "Documentation of {topic} often underestimates how much discipline it asks of its users.",
    "Small, well-named steps make {topic} far easier to reason about than large opaque ones.",
    "Testing {topic} properly means injecting failures on purpose, not waiting for them.",
    "Most of the value of {topic} is realised only once its guarantees are made explicit.",
    "Engineers new to {topic} should expect a short adjustment period.",
    "The operational story of {topic} deserves as much attention as its programming model.",
)

_CLOSERS = (
    "In short: {topic} answers this question well when its guarantees match the problem at "
    "hand, and poorly when they are bolted on afterwards.",
    "The practical takeaway is to apply {topic} where failures are expensive and to keep every "
    "step small, idempotent and observable.",
    "Overall, the evidence suggests that {topic} pays off for teams willing to learn its rules, "
    "and that those rules are simpler than they first appear.",
)


def _research(topic: str, question: str, rng: random.Random) -> str:
    fmt = {"topic": topic, "Topic": _cap(topic)}
    lowered = question.lower()
    angle_pool: list[str] = []
    for keywords, sentences in _ANGLES:
        if any(k in lowered for k in keywords):
            angle_pool.extend(sentences)
    if not angle_pool:
        angle_pool = [s for _, sentences in _ANGLES for s in sentences]
    angle_pool = list(dict.fromkeys(angle_pool))
    rng.shuffle(angle_pool)
    general = list(_GENERAL)
    rng.shuffle(general)

    opener = (
        f"The question “{question.rstrip()}” goes to the heart of **{topic}**."
        if question
        else f"This note looks at **{topic}** from a practical angle."
    )
    paragraphs = 2 + rng.randrange(3)  # 2..4
    out: list[str] = []
    first = [opener, *angle_pool[:2], general.pop()]
    out.append(" ".join(s.format(**fmt) for s in first))
    rest = angle_pool[2:] + general
    for i in range(1, paragraphs - 1):
        take = 2 + rng.randrange(2)
        chunk, rest = rest[:take], rest[take:]
        if not chunk:
            chunk = [general[0]] if general else []
        text = " ".join(s.format(**fmt) for s in chunk)
        if i == 1 and rng.random() < 0.5:
            text += (
                f"\n\n- **Guarantees:** what {topic} promises when things go wrong.\n"
                f"- **Costs:** the latency and complexity {topic} adds.\n"
                f"- **Operations:** how {topic} is monitored and repaired."
            )
        out.append(text)
    out.append(rng.choice(_CLOSERS).format(**fmt))
    return "\n\n".join(out)


# --------------------------------------------------------------------------------------------
# synthesize

_QA_RE = re.compile(r"^[ \t]*([QA])(\d+)[ \t]*:[ \t]?(.*)$")


def _parse_qa(prompt: str) -> list[tuple[int, str, str]]:
    """``(n, question, answer)`` triples from ``Q<n>:`` / ``A<n>:`` blocks (answers multi-line)."""
    questions: dict[int, str] = {}
    answers: dict[int, list[str]] = {}
    current: int | None = None
    for line in prompt.splitlines():
        match = _QA_RE.match(line)
        if match:
            kind, n, rest = match.group(1), int(match.group(2)), match.group(3)
            if kind == "Q":
                questions[n] = rest.strip()
                current = None
            else:
                answers[n] = [rest]
                current = n
        elif current is not None:
            answers[current].append(line)
    numbers = sorted(set(questions) | set(answers))
    return [(n, questions.get(n, ""), "\n".join(answers.get(n, [])).strip()) for n in numbers]


def _key_sentence(text: str, question: str) -> str:
    """The first sentence of ``text`` that says something (not one that restates the question)."""
    plain = re.sub(r"[*_`#>]+", "", text)
    plain = re.sub(r"^\s*-\s+", "", plain, flags=re.M)
    plain = " ".join(plain.split())
    sentences = [m.group(1) for m in re.finditer(r"(.+?[.!?])(?:\s+|$)", plain)] or [plain]
    q = question.strip().rstrip("?").lower()
    useful = [x for x in sentences if not (q and q in x.lower())] or sentences
    sentence = useful[0].strip()
    return sentence if len(sentence) <= 300 else sentence[:297].rstrip() + "..."


_SECTION_COMMENTS = (
    "This matters for anyone evaluating {topic}, because it shapes how the system behaves when "
    "things go wrong.",
    "For practitioners, the implication is to plan for this aspect of {topic} from the start "
    "rather than retrofitting it.",
    "It connects directly to the other findings about {topic} in this report.",
    "Of all the findings, this one is the easiest to act on in an existing system.",
    "It is also where teams new to {topic} most often stumble.",
    "The evidence here is consistent with what practitioners of {topic} report.",
)


def _synthesize(topic: str, prompt: str, rng: random.Random) -> str:
    items = _parse_qa(prompt)
    failed = [n for n, _, a in items if not a or a.startswith("(failed")]
    answered = len(items) - len(failed)
    lines = [f"# {_cap(topic)}: research report", "", "## Summary", ""]
    if items:
        summary = (
            f"This report brings together {len(items)} research question"
            f"{'s' if len(items) != 1 else ''} about {topic}. "
            f"{answered} of them {'was' if answered == 1 else 'were'} answered"
        )
        summary += (
            f"; {len(failed)} could not be researched and "
            f"{'is marked as a gap' if len(failed) == 1 else 'are marked as gaps'} below."
            if failed
            else ", and the answers below are summarised in question order."
        )
    else:
        summary = f"No research answers were provided for {topic}, so this report is only a frame."
    summary += " " + rng.choice(
        (
            f"Taken together, the findings describe {topic} as a set of guarantees with costs.",
            f"The picture that emerges is of {topic} as useful but demanding.",
            f"The common thread is that {topic} rewards careful, explicit design.",
        )
    )
    lines += [summary, ""]
    comments = list(_SECTION_COMMENTS)
    rng.shuffle(comments)
    for n, question, answer in items:
        lines += [f"## Q{n}: {question or f'Question {n}'}", ""]
        if not answer or answer.startswith("(failed"):
            reason = answer[len("(failed") :].strip(" :)") if answer else "no answer"
            lines.append(
                f"The research for Q{n} failed ({reason or 'unknown error'}), so this question "
                "remains open and should be revisited."
            )
        else:
            lines.append(f"The answer to Q{n} in one line: {_key_sentence(answer, question)}")
            lines.append("")
            lines.append(comments[n % len(comments)].format(topic=topic))
        lines.append("")
    lines += ["## Conclusion", ""]
    conclusion = (
        f"{_cap(topic)} is worth understanding in depth: the answers above show both what it "
        "guarantees and what it asks in return."
    )
    if failed:
        conclusion += (
            f" Gaps remain where research failed (Q{', Q'.join(str(n) for n in failed)}), "
            "and a follow-up pass should fill them."
        )
    lines.append(conclusion)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# judge and chat

_LABEL_RE = re.compile(
    r"^[ \t]*(?:#+[ \t]*)?((?:Answer|Candidate|Response|Option|Model|Report)[ \t]*[A-Za-z0-9]+"
    r"|A\d+)[ \t]*[:.)\-]",
    re.M,
)


_WEAKNESSES = ("accurate but vaguer", "thinner on trade-offs", "wanders off the question")


def _judge(prompt: str, rng: random.Random) -> str:
    labels = list(dict.fromkeys(m.group(1).strip() for m in _LABEL_RE.finditer(prompt)))
    if len(labels) < 2:
        return (
            "## Verdict\n\n"
            "The answers cover the same ground. None is clearly wrong; the more specific one, "
            "with concrete mechanisms and failure modes, is the more useful.\n\n"
            "- **Accuracy:** comparable.\n- **Specificity:** the decisive difference.\n"
            "- **Clarity:** both are readable."
        )
    winner = rng.choice(labels)
    lines = [
        "## Verdict",
        "",
        f"**{winner}** is the strongest of the {len(labels)} answers.",
        "",
        f"- **{winner}:** most concrete, names mechanisms and failure modes, and stays on the "
        "question.",
    ]
    for other in labels:
        if other != winner:
            lines.append(f"- **{other}:** {rng.choice(_WEAKNESSES)}.")
    lines += ["", "The differences are of emphasis rather than correctness."]
    return "\n".join(lines)


def _chat(prompt: str) -> str:
    first = _first_line(prompt)
    if not first:
        return "Hello from the offline scripted model. Nothing was asked, so nothing is answered."
    return (
        f"You said: “{first}”. This is the offline scripted model, so this reply is canned, "
        "but the round trip worked."
    )


# --------------------------------------------------------------------------------------------
# tools: one scripted call per tool named in ``agentdeck-tools:``, then the answer


@dataclass(frozen=True)
class ToolCall:
    """A ``tool_use`` block the model sends."""

    id: str
    name: str
    input: dict[str, Any]


def _words(text: str) -> str:
    """Letters, digits and spaces only (safe inside single quotes in a shell command)."""
    return " ".join(re.sub(r"[^A-Za-z0-9 ]+", " ", text).split())[:80] or "agentdeck"


def tool_input(name: str, prompt: str) -> dict[str, Any] | None:
    """The deterministic, harmless input of the scripted call of tool ``name`` (None: no script).

    The CLI really runs allowed calls, in its working directory (the offline CLI's private home):
    reads of a system file, a word count, a note file of its own; the web tools fail offline.
    """
    topic = _topic(prompt)
    note = f"agentdeck-note-{prompt_hash('note', prompt)[:8]}.md"
    inputs: dict[str, dict[str, Any]] = {
        "Read": {"file_path": "/etc/os-release", "limit": 5},
        "Glob": {"pattern": "*.md"},
        "Grep": {"pattern": "agentdeck", "glob": "*.md", "output_mode": "files_with_matches"},
        "Bash": {
            "command": f"echo '{_words(topic)}' | wc -w",
            "description": "Count the words of the topic",
        },
        "Write": {"file_path": note, "content": f"# Notes on {topic}\n\nWritten offline.\n"},
        "Edit": {"file_path": note, "old_string": "Written offline.", "new_string": "Edited."},
        "NotebookEdit": {
            "notebook_path": "agentdeck-notes.ipynb",
            "new_source": "print('offline')",
            "cell_type": "code",
            "edit_mode": "insert",
        },
        "WebFetch": {"url": "https://example.com/", "prompt": f"What does it say about {topic}?"},
        "WebSearch": {"query": topic},
    }
    return inputs.get(name)


def next_tool_call(parsed: ParsedRequest) -> ToolCall | None:
    """The tool call to answer ``parsed`` with, or None once every scripted tool was called."""
    scripted = [t for t in parsed.directives.tools if tool_input(t, parsed.prompt) is not None]
    if scripted and loops(parsed.directives.faults, parsed.directives.task):
        scripted = scripted[:1] * LOOP_REPEATS  # a model stuck in a tool loop
    if parsed.tool_calls >= len(scripted):
        return None
    name = scripted[parsed.tool_calls]
    phash = prompt_hash(parsed.directives.task, parsed.prompt)
    return ToolCall(
        id=f"toolu_offline_{phash[:10]}_{parsed.tool_calls}",
        name=name,
        input=tool_input(name, parsed.prompt) or {},
    )


def _first_line_of(text: str, limit: int = 160) -> str:
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def tools_paragraph(outcomes: Sequence[ToolOutcome]) -> str:
    """What the tools gave, one bullet each (appended to the answer)."""
    if not outcomes:
        return ""
    lines = ["**Tools used.**", ""]
    for o in outcomes:
        first = _first_line_of(o.text) or "(no output)"
        if o.is_error:
            lines.append(f"- `{o.name}` was not used: {first}")
        else:
            lines.append(f"- `{o.name}` returned: `{first.replace('`', chr(39))}`")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------


def answer(
    task: str,
    prompt: str,
    *,
    invalid_plan: bool = False,
    tool_outcomes: Sequence[ToolOutcome] = (),
) -> str:
    """The scripted answer for ``task`` to ``prompt`` (deterministic), followed by what the tools
    gave when there were tool calls."""
    text = _answer(task, prompt, invalid_plan=invalid_plan)
    tools = tools_paragraph(tool_outcomes)
    return f"{text}\n\n{tools}" if tools else text


def _answer(task: str, prompt: str, *, invalid_plan: bool = False) -> str:
    rng = _rng(task, prompt)
    topic = _topic(prompt)
    if task == "plan":
        return _plan(topic, prompt, valid=not invalid_plan)
    if task == "research":
        return _research(topic, _field(prompt, "Question") or "", rng)
    if task == "synthesize":
        return _synthesize(topic, prompt, rng)
    if task == "judge":
        return _judge(prompt, rng)
    return _chat(prompt)


def thinking_for(task: str, prompt: str) -> str:
    """A short deterministic reasoning text for the thinking block."""
    topic = _topic(prompt)
    steps = {
        "plan": f"The user wants research questions about {topic}. I should cover the problem, "
        "the mechanism, trade-offs and failure modes, and answer with JSON only.",
        "research": f"I need to answer one question about {topic}. Start from the mechanism, "
        "then the trade-offs, and end with a practical takeaway.",
        "synthesize": f"I have several answers about {topic}. Summarise each, flag any that "
        "failed, and close with an overall conclusion.",
        "judge": "I should compare the answers on accuracy, specificity and clarity, then pick "
        "one.",
    }
    return steps.get(task, f"The user said: {_first_line(prompt)[:80]}. A short reply will do.")


def thinking_signature(thinking: str) -> str:
    """A fake but stable signature for a thinking block."""
    digest = hashlib.sha256(f"agentdeck-offline\x00{thinking}".encode()).digest()
    return base64.b64encode(digest * 2).decode()
