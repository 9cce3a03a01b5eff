"""Running a bench script's quick mode as the smoke tests do: it exits 0 and ends with one
JSON line holding its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["BENCH", "ROOT", "run_quick"]

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def run_quick(script: str, *args: str, timeout: float = 100) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), "--quick", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    lines = proc.stdout.strip().splitlines()
    assert len(lines) >= 2, f"{script} printed no figures before its JSON:\n{proc.stdout}"
    result = json.loads(lines[-1])
    assert isinstance(result, dict)
    assert result["bench"] == script.removesuffix(".py") and result["quick"] is True
    return result
