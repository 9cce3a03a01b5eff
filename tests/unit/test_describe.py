"""What the timeline says a step did (tui.supervisor.describe): pure, on decoded values."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from pydantic import BaseModel

from tui.data.decode import Undecodable
from tui.supervisor.describe import (
    describe_child,
    describe_error,
    describe_output,
    describe_value,
)
from workflows.models import Answer, ClaudeResult, Plan, ToolRequest, Usage

RESULT = ClaudeResult(
    text="one two three",
    usage=Usage(input_tokens=10_512, output_tokens=67),
    cost_usd=0.0327,
    model="claude-sonnet-4-5",
    backend="offline",
)


@dataclass
class Order:
    sku: str
    qty: int
    lines: list[str]


class Ticket(BaseModel):
    id: int
    owner: dict[str, str]


def test_our_outputs_say_what_the_step_did() -> None:
    plan = Plan(questions=("What is it?", "Why now?", "Who uses it?"))
    assert describe_output("plan", (plan, RESULT)) == (
        "3 questions · 3 words · 10.6k tokens · $0.0327 · claude-sonnet-4-5"
    )
    assert describe_output("synthesize", RESULT).startswith("3 words · 10.6k tokens · ")
    answer = Answer(index=1, question="Why now?", text="x")
    assert describe_output("DBOS.getResult", answer) == "Q2: Why now?"
    tool = ToolRequest(tool="Bash", input={"command": "ls"}, key="k")
    assert describe_output("research", tool) == "asks to use Bash: command=ls"
    assert describe_output("settings", None) == ""
    assert describe_output("DBOS.recv", None) == "no message"


def test_an_approval_says_how_it_was_answered_and_by_whom() -> None:
    at = time.mktime((2026, 12, 3, 15, 42, 7, 0, 0, -1))
    approve = {"decision": "approve", "questions": None, "comment": "", "by": ""}
    assert describe_output("DBOS.recv", approve, at=at) == "approved 15:42"
    edit = {"decision": "edit", "questions": ["a?", "b?", "c?", "d?"], "by": "dashboard"}
    assert describe_output("DBOS.recv", edit, at=at) == "edited: 4 questions · 15:42 by dashboard"
    reject = {"decision": "reject", "comment": "too broad\nand vague", "by": "cli"}
    assert describe_output("DBOS.recv", reject, at=at) == "rejected 15:42 by cli: too broad"
    # A message that is not an answer is a message.
    assert describe_output("DBOS.recv", {"decision": "maybe"}) == "decision=maybe"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (7, "7"),
        (2.5, "2.5"),
        (True, "True"),
        ("hello\nworld", "hello"),
        (
            {"sku": "w", "stock": {"a": 1, "b": 2}, "tags": ["x", "y"]},
            "sku=w, stock={a, b}, tags=[2 items]",
        ),
        ({"a": 1, "b": 2, "c": 3, "d": 4}, "a=1, b=2, c=3, …"),
        (Order("w", 2, ["a", "b", "c"]), "Order(sku=w, qty=2, lines=[3 items])"),
        (Ticket(id=4, owner={"name": "ana"}), "Ticket(id=4, owner={name})"),
        ([1, 2], "1, 2"),
        ([{"a": 1}, {"b": 2}, {"c": 3}, {"d": 4}], "{a}, {b}, {c}, … (4 items)"),
        ((), "[0 items]"),
        (
            "gASVKAAAAAAAAACMCF9fbWFpbl9flIwFT3JkZXKUk5QpgZR9lCiMA3NrdZSMBndpZGdldA==",
            "<undecodable value (72 bytes)>",
        ),
    ],
)
def test_a_foreign_value_is_summarised_not_printed(value: object, text: str) -> None:
    assert describe_value(value) == text
    assert describe_output("foreign.step", value) == text


def test_placeholders_errors_children_and_secrets() -> None:
    missing = Undecodable(
        "py_pickle", "AttributeError: Can't get attribute 'Order' on <module '__main__'>"
    )
    assert describe_value(missing) == "<__main__.Order: pickled class not importable here>"
    assert describe_error("\nClaudeFatalError: invalid request\nTraceback …") == (
        "ClaudeFatalError: invalid request"
    )
    args = {"args": ["durable execution", 0, "What is it?", "m"], "kwargs": {}}
    assert describe_child("research.question", args) == "Q1: What is it?"
    assert describe_child("compare.branch", {"args": ["q", "B", "m", "concise"]}) == (
        "B · m:concise"
    )
    assert describe_child("foreign.child", {"args": [0], "kwargs": {"fast": True}}) == (
        "(0, fast=True)"
    )
    assert describe_child("foreign.child", missing).startswith("<__main__.Order")
    assert describe_child("foreign.child", None) == ""
    url = "postgresql://bob:hunter2@db/x"
    assert "hunter2" not in describe_value({"url": url})
    assert "hunter2" not in describe_output("DBOS.recv", url)
    long = describe_value("x " * 200)
    assert len(long) == 160 and long.endswith("…")
