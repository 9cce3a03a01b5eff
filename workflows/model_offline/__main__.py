"""Run the offline scripted model in the foreground.

``python -m workflows.model_offline --port N [--tps X] [--faults SPEC]`` prints
``listening on http://127.0.0.1:N`` once it accepts connections, and serves until SIGINT/SIGTERM.
``--tps`` and ``--faults`` default to ``AGENTDECK_OFFLINE_TPS`` and ``AGENTDECK_OFFLINE_FAULTS``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .server import OfflineModelServer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workflows.model_offline", description="Run the offline scripted model."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--tps", type=float, default=None, help="tokens per second (0 = no pacing)")
    parser.add_argument("--faults", default=None, help="server-wide fault spec")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    try:
        server = OfflineModelServer.from_env(
            host=args.host, port=args.port, tokens_per_second=args.tps, faults=args.faults
        )
    except ValueError as exc:
        parser.error(str(exc))
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    base_url = server.start()
    print(f"listening on {base_url}", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
