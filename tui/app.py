"""Placeholder; replaced by the dashboard."""

from __future__ import annotations


def run_dashboard(*, db: str | None, offline: bool | None, read_only: bool, attach: bool) -> int:
    raise SystemExit("dashboard not built yet")
