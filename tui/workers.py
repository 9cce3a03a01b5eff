"""One handler for workers that fail unexpectedly: a notification, never a silent stop."""

from __future__ import annotations

import logging

from textual.worker import Worker, WorkerState

__all__ = ["WorkerErrors"]

log = logging.getLogger("agentdeck.ui")


class WorkerErrors:
    """Mix into any screen or app that runs workers (``exit_on_error=False``).

    Expected failures (the data layer's ``SupervisorError``) are handled where they happen; this
    catches the rest so the app stays usable and the user is told, without a traceback.
    """

    #: Worker groups whose errors the class reports itself.
    quiet_worker_groups: frozenset[str] = frozenset()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR or event.worker.group in self.quiet_worker_groups:
            return
        from workflows.runtime import redact

        error = event.worker.error
        what = event.worker.description or event.worker.name or "a background task"
        log.error("worker %s failed", what, exc_info=error)
        text = redact(f"{type(error).__name__}: {error}" if error else "unknown error")
        notify = getattr(self, "notify", None)
        if notify is not None:
            notify(text[:300], title=f"{what} failed", severity="error", timeout=8)
