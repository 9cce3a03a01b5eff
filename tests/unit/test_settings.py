"""One configuration (issue #15 item 2): every setting is a documented field of one typed model,
read from the environment, agentdeck.yaml and dbos-config.yaml in that order; a bad value is one
line naming the setting and its source; ``agentdeck config`` shows each with its source and
secrets redacted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflows import settings as light
from workflows.config import AgentDeckSettings, ConfigError, describe, settings, source_of

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A working directory with no settings files and no AGENTDECK_* variables."""
    for name in list(os.environ):
        if name.startswith("AGENTDECK_") or name == "DBOS_SYSTEM_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


def test_every_variable_the_code_reads_is_a_documented_setting() -> None:
    named = set()
    for path in [*ROOT.joinpath("tui").rglob("*.py"), *ROOT.joinpath("workflows").rglob("*.py")]:
        named |= set(re.findall(r"AGENTDECK_([A-Z_]+[A-Z])", path.read_text()))
    fields = {n.upper() for n in AgentDeckSettings.model_fields}
    # AGENTDECK_CONFIG names the settings file itself; AGENTDECK_CLI and AGENTDECK_CLI_PARENT
    # are what a worker hands the CLI tether's wrapper (workflows/tether.py), not settings.
    meta = {"CONFIG", "CLI", "CLI_PARENT"}
    assert named - meta <= fields, named - meta - fields
    for name, field in AgentDeckSettings.model_fields.items():
        assert field.description, f"{name} has no description"


def test_sources_in_order_with_their_names(clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings().research_concurrency == 2 and source_of("research_concurrency") == "default"
    (clean / "dbos-config.yaml").write_text("system_database_url: sqlite:///from-dbos.sqlite\n")
    (clean / "agentdeck.yaml").write_text("research_concurrency: 3\nschedules: []\n")
    assert settings().research_concurrency == 3
    assert source_of("research_concurrency") == "agentdeck.yaml"
    assert settings().db_url == "sqlite:///from-dbos.sqlite"
    assert source_of("db_url") == "dbos-config.yaml"
    monkeypatch.setenv("AGENTDECK_RESEARCH_CONCURRENCY", "5")
    monkeypatch.setenv("DBOS_SYSTEM_DATABASE_URL", "sqlite:///from-env.sqlite")
    assert settings().research_concurrency == 5  # read again: the environment changed
    assert source_of("research_concurrency") == "$AGENTDECK_RESEARCH_CONCURRENCY"
    assert settings().db_url == "sqlite:///from-env.sqlite"


def test_a_bad_value_is_one_line_naming_the_setting_and_its_source(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTDECK_OFFLINE_TPS", "fast")
    with pytest.raises(ConfigError) as bad:
        settings()
    assert str(bad.value).startswith("setting offline_tps ($AGENTDECK_OFFLINE_TPS): ")
    assert "\n" not in str(bad.value)
    monkeypatch.delenv("AGENTDECK_OFFLINE_TPS")
    (clean / "agentdeck.yaml").write_text("read_timeout_s: -1\n")
    with pytest.raises(ConfigError, match=r"^setting read_timeout_s \(agentdeck.yaml\): "):
        settings()


def test_the_light_path_reads_what_the_model_reads(
    clean: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``agentdeck ls`` and the data core read three settings without pydantic."""
    for env in (None, "2.5"):
        for var, field in (
            ("AGENTDECK_READ_TIMEOUT_S", "read_timeout_s"),
            ("AGENTDECK_HEARTBEAT_S", "heartbeat_s"),
        ):
            if env is None:
                monkeypatch.delenv(var, raising=False)
            else:
                monkeypatch.setenv(var, env)
            assert light.env_seconds(var, getattr(AgentDeckSettings(), field)) == getattr(
                settings(), field
            )
    assert light.presence_ttl() == settings().presence_ttl == 7.5


def test_agentdeck_config_prints_sources_and_redacts_secrets(clean: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTDECK_")}
    env.update(
        AGENTDECK_SERVE_TOKEN="tok-abcdefghijklmnop-secret",
        DBOS_SYSTEM_DATABASE_URL="postgresql://bob:hunter2pw@db.example/dbos",
        AGENTDECK_OFFLINE_TPS="0",
        AGENTDECK_NOTIFY_WEBHOOK="https://hooks.example.com/services/T0/B0/tok-webhook-secret",
        AGENTDECK_NOTIFY_MAX_ATTEMPTS="7",
    )
    cli = [sys.executable, "-m", "tui.cli"]
    out = subprocess.run(
        [*cli, "config", "--json"],
        cwd=clean,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    shown = json.loads(out)
    assert shown["serve_token"] == {"value": "***", "source": "$AGENTDECK_SERVE_TOKEN"}
    assert shown["db_url"]["value"] == "postgresql://bob:***@db.example/dbos"
    assert shown["offline_tps"] == {"value": "0.0", "source": "$AGENTDECK_OFFLINE_TPS"}
    assert shown["research_concurrency"]["source"] == "default"
    # A webhook URL often carries its token in the path: only its scheme and host are shown.
    assert shown["notify_webhook"] == {
        "value": "https://hooks.example.com/…",
        "source": "$AGENTDECK_NOTIFY_WEBHOOK",
    }
    assert shown["notify_max_attempts"] == {
        "value": "7",
        "source": "$AGENTDECK_NOTIFY_MAX_ATTEMPTS",
    }
    assert shown["notify_command"] == {"value": "(none)", "source": "default"}
    text = subprocess.run(
        [*cli, "config"], cwd=clean, env=env, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "hunter2pw" not in text and "secret" not in text
    assert set(shown) == set(AgentDeckSettings.model_fields) == {r[0] for r in describe()}
    # A bad value: one line on stderr, exit 2, no traceback (any command but ls).
    env["AGENTDECK_LAUNCH_RATE"] = "lots"
    bad = subprocess.run(
        [*cli, "config"], cwd=clean, env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "agentdeck: error: setting launch_rate ($AGENTDECK_LAUNCH_RATE): Value error, expected "
        "LIMIT/SECONDS such as 50/60 or 'off', not 'lots'"
    ]
