"""Blocking data-layer calls on the event loop's worker threads, started at once."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

__all__ = ["in_thread"]

T = TypeVar("T")


def in_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
    """``fn(*args, **kwargs)`` on the loop's default executor, submitted now.

    ``asyncio.to_thread`` is a coroutine: handed to ``wait_for`` (as every bounded read is), its
    thread is only asked for when the task wrapping it first runs, after whatever the loop
    does first. Right after a screen is pushed that is the screen's first layout and paint,
    which held the insights' first statement back by 60-70 ms at 1M runs. This submits the
    call before returning, with the caller's context (as ``to_thread`` does).

    Args:
        fn: The blocking call.
        *args: Its positional arguments.
        **kwargs: Its keyword arguments.

    Returns:
        A future of its result (await it, or hand it to ``Connection._call``).
    """
    ctx = contextvars.copy_context()
    return asyncio.get_running_loop().run_in_executor(None, partial(ctx.run, fn, *args, **kwargs))
