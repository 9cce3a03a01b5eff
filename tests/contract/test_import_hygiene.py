"""The arrows go one way: workflows never import the UI; only tui.supervisor imports DBOS; and
``agentdeck ls`` imports none of the heavy packages (tests/contract/test_fast_ls.py)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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


#: Runs in a process of its own, which hosts another app's code (``--app-path``): it imports DBOS
#: only to disable ``DBOS.launch`` there, and must not load ``tui.supervisor`` (nor our workflows).
OWN_PROCESS = {"codec_worker.py"}


def test_only_the_data_layer_imports_dbos() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "tui").rglob("*.py")
        if "supervisor" not in p.parts and p.name not in OWN_PROCESS and "dbos" in _imports(p)
    ]
    assert offenders == []


def test_the_codec_helper_loads_neither_the_data_layer_nor_our_workflows(tmp_path: Path) -> None:
    app = tmp_path / "plain.py"
    app.write_text("class Thing:\n    pass\n")
    code = (
        "import sys\nfrom tui.codec_worker import App\nApp(sys.argv[1], None)\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'workflows', 'sqlalchemy') or m.startswith('tui.supervisor'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(app)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == ""
