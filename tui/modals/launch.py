"""Launch a workflow: a form generated from the workflow's pydantic input model."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ValidationError
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from workflows.queues import MAX_PRIORITY, MIN_PRIORITY

from ..supervisor import WORKFLOW_TYPES, SupervisorError
from ..widgets.text import escape
from ..workers import WorkerErrors

if TYPE_CHECKING:
    from ..deck import Deck

__all__ = ["LaunchScreen", "form_fields"]

#: Fields shown empty (the user's own words), whatever their default.
FREE_FIELDS = frozenset({"topic", "question"})


def form_fields(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """(name, label, input type, default) for each field of an input model."""
    out = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        kind = "integer" if ann is int else "number" if ann is float else "text"
        required = field.is_required()
        default = "" if field.default is None or required else str(field.default)
        if isinstance(field.default, tuple):  # e.g. tools: typed comma-separated
            default = ", ".join(map(str, field.default))
        out.append((name, field.description or name, kind, default))
    return out


class LaunchScreen(WorkerErrors, ModalScreen[str | None]):
    """The launch form of a workflow type, generated from its pydantic input model; enter on the
    last field launches. Dismissed with the new run's id, or None.

    | Key(s) | Description |
    | :- | :- |
    | escape | Close without launching. |
    | ctrl+s | Launch. |
    """

    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel", show=False),
        Binding("ctrl+s", "submit", "Launch", show=False),
    ]

    def __init__(self, kind: str = "research") -> None:
        super().__init__()
        self.kind = kind

    @property
    def model(self) -> type[BaseModel]:
        return WORKFLOW_TYPES[self.kind][1]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog form"):
            yield Static("[b]Launch a workflow[/]  [dim]enter on the last field or ctrl+s[/]")
            yield Label("Workflow type")
            yield Select(
                [(k, k) for k in WORKFLOW_TYPES], value=self.kind, allow_blank=False, id="kind"
            )
            for name, label, kind, default in form_fields(self.model):
                yield Label(label, classes="field-label")
                value = "" if name in FREE_FIELDS else default
                yield Input(
                    value=value,
                    placeholder=default or name,
                    type=kind,  # type: ignore[arg-type]
                    id=f"f-{name}",
                    classes="field",
                )
                yield Static("", id=f"err-{name}", classes="field-error")
            yield Label("Workflow id (optional; launching an existing id does nothing)")
            yield Input(placeholder="generated", id="f-workflow_id", classes="field")
            yield from self._compose_queue_options()
            yield Static("", id="err-form", classes="field-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Launch", variant="primary", id="launch")
                yield Button("Cancel (esc)", id="cancel")

    def _compose_queue_options(self) -> ComposeResult:
        """Launch-queue options, not part of the input model: priority, debounce, duplicates."""
        yield Label("Priority (1 runs first; empty: none, which DBOS runs before any number)")
        yield Input(placeholder="none", type="integer", id="f-priority", classes="field")
        yield Static("", id="err-priority", classes="field-error")
        yield Label("Debounce seconds (empty: off): the same topic again restarts the wait")
        yield Input(placeholder="off", type="number", id="f-debounce", classes="field")
        yield Static("", id="err-debounce", classes="field-error")
        yield Label("Workflow timeout seconds (empty: none): cancelled this long after it starts")
        yield Input(placeholder="none", type="number", id="f-timeout", classes="field")
        yield Static("", id="err-timeout", classes="field-error")
        yield Checkbox(
            "Launch even if an identical request is queued or running",
            id="f-anyway",
        )

    def _number(
        self, name: str, parse: Callable[[str], float], valid: Callable[[float], bool], error: str
    ) -> tuple[bool, float | None]:
        """(ok, value) of an optional number field; an inline error when it is not ``valid``."""
        raw = self.query_one(f"#f-{name}", Input).value.strip()
        if not raw:
            return True, None
        try:
            value = parse(raw)
        except ValueError:
            value = None
        if value is None or not valid(value):
            self.query_one(f"#err-{name}", Static).update(f"[red]✖ {escape(error)}[/]")
            return False, None
        return True, value

    def _queue_options(self) -> dict[str, Any] | None:
        """Priority, debounce, timeout and dedupe from the form; inline errors, None if invalid."""
        ok_p, priority = self._number(
            "priority",
            int,
            lambda v: MIN_PRIORITY <= v <= MAX_PRIORITY,
            f"a whole number from {MIN_PRIORITY} to {MAX_PRIORITY}",
        )
        ok_d, debounce = self._number(
            "debounce", float, lambda v: 0 <= v <= 24 * 3600, "seconds from 0 (off) to 86400"
        )
        ok_t, timeout = self._number(
            "timeout",
            float,
            lambda v: 0 < v <= 30 * 24 * 3600,
            "seconds, more than 0 and at most 30 days (2592000)",
        )
        ok = ok_p and ok_d and ok_t
        if ok and priority is not None and debounce:
            self.query_one("#err-debounce", Static).update(
                "[red]✖ a debounced launch cannot have a priority (DBOS's debouncer)[/]"
            )
            ok = False
        if not ok:
            return None
        return {
            "priority": None if priority is None else int(priority),
            "debounce_s": debounce,
            "timeout_s": timeout,
            "dedupe": not self.query_one("#f-anyway", Checkbox).value,
        }

    def on_mount(self) -> None:
        self.query(".field").first(Input).focus()

    @on(Select.Changed, "#kind")
    async def _kind_changed(self, event: Select.Changed) -> None:
        """Another workflow type: its own form, generated from its input model."""
        if isinstance(event.value, str) and event.value != self.kind:
            self.kind = event.value
            await self.recompose()
            self.query(".field").first(Input).focus()

    def _values(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name, _label, _kind, _default in form_fields(self.model):
            raw = self.query_one(f"#f-{name}", Input).value.strip()
            if raw == "" and name not in FREE_FIELDS:
                continue
            data[name] = raw
        return data

    def _validate(self) -> dict[str, Any] | None:
        for err in self.query(".field-error"):
            cast(Static, err).update("")
        data = self._values()
        try:
            self.model.model_validate(data)
        except ValidationError as exc:
            for e in exc.errors():
                field = str(e["loc"][0]) if e["loc"] else "form"
                target = self.query(f"#err-{field}") or self.query("#err-form")
                cast(Static, target.first()).update(f"[red]✖ {escape(str(e['msg']))}[/]")
            return None
        return data

    @on(Input.Changed)
    def _edited(self, event: Input.Changed) -> None:
        """An edited field's error is about a value that is gone: clear it (the next submit
        checks again)."""
        name = (event.input.id or "").removeprefix("f-")
        for err in self.query(f"#err-{name}"):
            cast(Static, err).update("")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#launch")
    def _pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:
        data = self._validate()
        options = self._queue_options()
        if data is not None and options is not None:
            self._launch(data, options)

    @work(exclusive=True, group="launch", exit_on_error=False, description="launch")
    async def _launch(self, data: dict[str, Any], options: dict[str, Any]) -> None:
        deck = cast("Deck", self.app)
        wid = self.query_one("#f-workflow_id", Input).value.strip() or None
        try:
            res = await deck.source.launch(self.kind, data, workflow_id=wid, **options)
        except SupervisorError as exc:
            self.query_one("#err-form", Static).update(f"[red]✖ {escape(str(exc))}[/]")
            return
        if not res.ok:  # refused as a duplicate: the form stays, the message names the run
            self.query_one("#err-form", Static).update(f"[yellow]✖ {escape(res.message)}[/]")
            return
        deck.record(res)
        deck.poller.kick()
        self.dismiss(res.workflow_id)
