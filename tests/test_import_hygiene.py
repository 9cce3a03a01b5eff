"""The arrows go one way: workflows never import the UI; only tui.supervisor imports DBOS."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_workflows_do_not_import_the_ui() -> None:
    code = (
        "import sys, workflows.research, workflows.runtime, workflows.claude, "
        "workflows.model_offline.server\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui'))\n"
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_data_layer_imports_dbos() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tui").rglob("*.py")
        if "supervisor" not in p.parts and "dbos" in _imports(p)
    ]
    assert offenders == []
