"""Command palette: the actions of the current screen, and "go to workflow"."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from .deck import Deck

__all__ = ["AgentDeckCommands"]

ACTIONS = (
    ("Launch a workflow", "app.action_launch", "n"),
    ("Approval inbox", "app.action_inbox", "i"),
    ("Queues", "app.action_queues", "Q"),
    ("Schedules", "app.action_schedules", "S"),
    ("Insights: runs, durations, cost, approval waits, errors", "app.action_insights", "I"),
    ("Show log and audit", "app.action_log", "l"),
    ("Help: every key", "app.action_help", "?"),
    ("Answer the selected run's approval", "screen.action_answer", "a"),
    ("Cancel the selected run", "screen.action_cancel", "c"),
    ("Resume the selected run", "screen.action_resume", "r"),
    ("Fork the selected run", "screen.action_fork", "f"),
    ("Fork lineage of the selected run", "screen.action_lineage", "L"),
    ("Diff the selected fork with its origin", "screen.action_diff", "d"),
    ("Copy the selected run's id", "screen.action_copy_id", "y"),
    ("Export the run to a file (Markdown or JSON)", "screen.action_export", "x"),
    ("Resume every failed run (in the whole database)", "app.action_resume_failed", "*, r"),
    ("Count the matching runs exactly", "screen.action_count", "#"),
)


class AgentDeckCommands(Provider):
    @property
    def deck(self) -> Deck:
        return cast("Deck", self.app)

    def _commands(self) -> list[tuple[str, object, str]]:
        out: list[tuple[str, object, str]] = []
        for label, target, key in ACTIONS:
            owner, _, method = target.partition(".")
            obj = self.app if owner == "app" else self.screen
            fn = getattr(obj, method, None)
            if fn is not None:
                out.append((label, fn, f"key {key}"))
        for row in self.deck.snapshot.rows[:300]:
            # The summary (a research topic, a compare question) is in the label so it is
            # searched too: "raft" finds the run about Raft, not only ids.
            about = f" · {row.summary}" if row.summary else ""
            out.append(
                (
                    f"Go to workflow {row.workflow_id}{about}",
                    partial(self.deck.open_run, row.workflow_id),
                    f"{row.name} · {row.status.lower()}",
                )
            )
        return out

    async def discover(self) -> Hits:
        for label, fn, help_text in self._commands()[: len(ACTIONS)]:
            yield DiscoveryHit(label, fn, help=help_text)  # type: ignore[arg-type]

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        found = False
        for label, fn, help_text in self._commands():
            score = matcher.match(label)
            if score > 0:
                found = True
                yield Hit(score, matcher.highlight(label), fn, help=help_text)  # type: ignore[arg-type]
        q = query.strip()
        if not found and len(q) >= 4 and " " not in q:
            yield Hit(
                0.1,
                f"Go to workflow {q} (look it up)",
                partial(self._goto, q),
                help="resolve an id or unique prefix",
            )

    def _goto(self, partial_id: str) -> None:
        self.app.run_worker(self._resolve(partial_id), group="goto", exit_on_error=False)

    async def _resolve(self, partial_id: str) -> None:
        from .supervisor import SupervisorError

        try:
            wid = await self.deck.source.resolve_id(partial_id)
        except SupervisorError as exc:
            self.app.notify(str(exc), severity="warning")
            return
        self.deck.open_run(wid)
