"""Samples of a process's CPU, context switches and memory, read from ``/proc``.

CPU is ``utime+stime`` from ``/proc/<pid>/stat`` (of the process and, ``tree``, its descendants);
wakeups are its threads' context switches (``/proc/<pid>/task/*/status``); memory ``VmRSS`` /
``VmHWM`` from ``/proc/<pid>/status``.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import percentile

__all__ = ["CLK_TCK", "Sample", "cpu_figures", "sample"]

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    t: float  # monotonic seconds
    ticks: int  # utime + stime of the processes, clock ticks
    switches: int  # voluntary + involuntary context switches of all their threads
    rss_kb: int
    hwm_kb: int
    threads: int


_SWITCHES = re.compile(r"^(?:non)?voluntary_ctxt_switches:\s+(\d+)", re.M)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                todo.extend(int(c) for c in task.read_text().split())
            except OSError:
                pass
    return out


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _kb(value: str) -> int:
    return int(value.split()[0]) if value else 0


def sample(pid: int, *, tree: bool = True) -> Sample:
    """``pid`` and (``tree``) all its descendants."""
    ticks = switches = rss = hwm = threads = 0
    for p in _descendants(pid) if tree else [pid]:
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
            st = _status(p)
            rss += _kb(st.get("VmRSS", ""))
            hwm += _kb(st.get("VmHWM", ""))
            threads += int(st.get("Threads", "0"))
            for task in Path(f"/proc/{p}/task").iterdir():
                switches += sum(int(n) for n in _SWITCHES.findall((task / "status").read_text()))
        except (OSError, ValueError):
            continue  # a process or thread that just ended
    return Sample(time.monotonic(), ticks, switches, rss, hwm, threads)


def cpu_figures(samples: list[Sample]) -> dict[str, Any]:
    """CPU % of one core over the whole window and per interval, wakeups/s, memory at the end."""
    first, last = samples[0], samples[-1]
    wall = last.t - first.t
    per = [
        100.0 * (b.ticks - a.ticks) / CLK_TCK / (b.t - a.t)
        for a, b in zip(samples, samples[1:], strict=False)
    ]
    return {
        "seconds": round(wall, 1),
        "cpu_pct": round(100.0 * (last.ticks - first.ticks) / CLK_TCK / wall, 2),
        "cpu_pct_per_s": {"p50": round(percentile(per, 50), 1), "max": round(max(per), 1)},
        "wakeups_per_s": round((last.switches - first.switches) / wall, 1),
        "rss_mb": round(last.rss_kb / 1024, 1),
        "hwm_mb": round(last.hwm_kb / 1024, 1),
        "threads": last.threads,
    }
