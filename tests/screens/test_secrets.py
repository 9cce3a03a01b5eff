"""Planted secrets (an API key, a database password) never reach a screen, a log or the CLI."""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.support.pilot import SIZE, select, until
from tests.support.runs import wait_approval
from tui.app import AgentDeckApp
from tui.supervisor import Supervisor
from workflows.model_offline.transport import transport_factory
from workflows.runtime import LOG_BUFFER, Runtime, RuntimeSettings

pytestmark = pytest.mark.postgres

FAKE_KEY = "sk-ant-api03-PLANTED-SECRET-0123456789abcdefXYZ"


@pytest.fixture
async def pg_runtime(
    pg_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Runtime]:
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    rt = Runtime(
        RuntimeSettings(
            db_url=pg_database,
            offline=True,
            offline_tps=0,
            state_dir=tmp_path / "state",
            transport_factory=transport_factory,
        )
    )
    await asyncio.to_thread(rt.launch)
    try:
        yield rt
    finally:
        await asyncio.to_thread(rt.shutdown)


async def test_no_secret_on_screen_in_logs_or_cli(
    pg_database: str, pg_runtime: Runtime, tmp_path: Path
) -> None:
    password = urlsplit(pg_database).password
    assert password
    secrets = (FAKE_KEY, password)
    sup = Supervisor(pg_database)
    app = AgentDeckApp(sup, mode="attach", poll_interval=0.05)
    screens: list[str] = []
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.connected)
        wid = (await sup.launch("research", {"topic": "secret handling"})).workflow_id
        await wait_approval(sup, wid)
        await select(pilot, app, wid)
        screens.append(app.export_screenshot())
        for keys in (("enter",), ("e",), ("m",), ("escape", "i"), ("escape", "l")):
            await pilot.press(*keys)
            await pilot.pause(0.3)
            screens.append(app.export_screenshot())
        # An error that carries the URL (a failing action) is shown redacted too.
        bad = Supervisor(pg_database.replace("/agentdeck_test", "/no_such_db_"))
        with pytest.raises(Exception) as info:
            await bad.connect()
        screens.append(str(info.value))
    log_text = "\n".join(line.message for line in LOG_BUFFER.lines)
    log_file = (tmp_path / "state" / "agentdeck.log").read_text()
    env = dict(os.environ, ANTHROPIC_API_KEY=FAKE_KEY, AGENTDECK_STATE_DIR=str(tmp_path / "cli"))
    outputs = []
    for args in (["ls", "--json"], ["show", wid, "--json"], ["show", "nope"]):
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "tui.cli", "--db", pg_database, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        outputs.append(done.stdout + done.stderr)
    assert wid in outputs[0] and "unknown workflow id" in outputs[2]
    first = html.unescape(re.sub(r"<[^>]+>", "", screens[0])).replace("\xa0", " ")
    assert ":***@" in first  # the URL is on screen, its password is not
    for text in (*screens, log_text, log_file, *outputs):
        for secret in secrets:
            assert secret not in text
