"""What Python prints at exit goes to the log, not over the terminal the dashboard leaves: an
object finalised after its event loop closed ("Exception ignored in ...") and asyncio's own
warnings (a child process that exits after its loop closed)."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

import pytest

from workflows.runtime import configure_logging


class _Finalised:
    def __del__(self) -> None:
        raise RuntimeError("Event loop is closed")


def test_ignored_exceptions_and_asyncio_warnings_go_to_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sys.unraisablehook
    try:
        path = configure_logging(tmp_path)
        obj = _Finalised()
        del obj
        gc.collect()
        logging.getLogger("asyncio").warning("Loop %s that handles pid 1 is closed", "<loop>")
    finally:
        sys.unraisablehook = before
    for handler in logging.getLogger("agentdeck").handlers:
        handler.flush()
    logged = path.read_text()
    assert "RuntimeError: Event loop is closed" in logged
    assert "that handles pid 1 is closed" in logged
    err = capsys.readouterr().err
    assert "Event loop is closed" not in err and "handles pid" not in err
