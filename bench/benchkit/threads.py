"""CPU per thread of a process, each thread named as Python named it.

Python 3.11 does not give its threads' names to the OS (``/proc/<pid>/task/<tid>/comm`` says
``python`` for all), so a process to be measured is started through this module::

    python -m benchkit.threads MAP_FILE -- agentdeck ARGS...

which appends ``native_id<TAB>name`` to ``MAP_FILE`` as each thread starts (``threading.setprofile``
sees every thread the ``threading`` module starts, before its ``run``), then runs the
``agentdeck`` CLI in this process. :func:`thread_ticks` reads each thread's ``utime+stime`` from
``/proc/<pid>/task/<tid>/stat`` and :func:`per_thread` names and groups the difference of two
readings.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import Any

from .procstat import CLK_TCK

__all__ = ["group_of", "names", "per_thread", "thread_ticks"]


def thread_ticks(pid: int) -> dict[int, int]:
    """``utime+stime`` (clock ticks) of each live thread of ``pid``."""
    out: dict[int, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # a thread that just ended
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = int(fields[11]) + int(fields[12])
    return out


def names(map_file: Path) -> dict[int, str]:
    """The thread names the measured process wrote (the last name given to each id)."""
    out: dict[int, str] = {}
    if map_file.exists():
        for line in map_file.read_text().splitlines():
            tid, _, name = line.partition("\t")
            if tid.isdigit():
                out[int(tid)] = name
    return out


_NUMBERED = re.compile(r"^(.*?)[-_]?\d+(?:_\d+)?$")
_GROUPS = {
    # DBOS's threads are mostly unnamed ("Thread-N (target)"): named here by their target.
    "queue_worker_thread": "DBOS queue worker",
    "queue_thread": "DBOS queue manager",
    "run_notification_listener": "DBOS notification poll (SQLite)",
    "run_notifier": "DBOS notifier",
    "dynamic_scheduler_loop": "DBOS scheduler",
}


def group_of(name: str) -> str:
    """A thread's group: numbered pool threads together, DBOS's by their target."""
    target = re.search(r"\((\w+)\)$", name)
    if target and target.group(1) in _GROUPS:
        return _GROUPS[target.group(1)]
    if name.startswith("queue-worker-"):
        return name
    match = _NUMBERED.match(name.split(" (")[0])
    return f"{match.group(1)}*" if match and match.group(1) else name


def per_thread(
    before: dict[int, int], after: dict[int, int], map_file: Path, wall: float
) -> list[dict[str, Any]]:
    """CPU % of a core per thread group between two readings, busiest first."""
    known = names(map_file)
    by_group: dict[str, float] = {}
    counts: dict[str, int] = {}
    for tid, ticks in after.items():
        group = group_of(known.get(tid, f"unnamed {tid}"))
        by_group[group] = by_group.get(group, 0.0) + (ticks - before.get(tid, 0))
        counts[group] = counts.get(group, 0) + 1
    total = sum(by_group.values()) or 1.0
    return sorted(
        (
            {
                "thread": group,
                "threads": counts[group],
                "cpu_pct": round(100.0 * ticks / CLK_TCK / wall, 3),
                "share_pct": round(100.0 * ticks / total, 1),
            }
            for group, ticks in by_group.items()
        ),
        key=lambda r: -float(r["cpu_pct"]),
    )


def _main(argv: list[str]) -> int:
    map_file, sep, command = argv[0], argv[1], argv[2:]
    if sep != "--" or not command:
        print("usage: python -m benchkit.threads MAP_FILE -- agentdeck ARGS...", file=sys.stderr)
        return 2
    out = open(map_file, "a", buffering=1)  # noqa: SIM115 - held for the process's life
    lock = threading.Lock()

    def record(thread: threading.Thread) -> None:
        name = thread.name
        target = getattr(thread, "_target", None)
        if target is not None and "(" not in name:
            name = f"{name} ({getattr(target, '__name__', '?')})"
        with lock:
            out.write(f"{threading.get_native_id()}\t{name}\n")

    def hook(frame: Any, event: str, arg: Any) -> None:
        sys.setprofile(None)
        record(threading.current_thread())

    threading.current_thread().name = "main (event loop)"
    record(threading.current_thread())
    threading.setprofile(hook)
    from tui.cli import main

    sys.argv = command
    return main()


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
