"""Shared pytest fixtures."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from tests.pg import PG_URL_ENV, ThrowawayPostgres
from tui.supervisor import Supervisor
from workflows.model_offline.transport import reset_faults, transport_factory
from workflows.runtime import Runtime, RuntimeSettings

#: The environment every test runs in: fast retries, no pacing, no credentials, no notifier.
TEST_ENV_DEFAULTS = {
    "AGENTDECK_STEP_RETRY_INTERVAL": "0.05",
    "AGENTDECK_STEP_BACKOFF": "1.5",
    "AGENTDECK_NOTIFY_MAX_ATTEMPTS": "3",
    "AGENTDECK_NOTIFY_RETRY_INTERVAL": "0.05",
    "AGENTDECK_NOTIFY_BACKOFF": "2",
    "AGENTDECK_NOTIFY_WATCH_S": "0.2",
}
TEST_ENV_UNSET = (
    "AGENTDECK_NOTIFY_WEBHOOK",
    "AGENTDECK_NOTIFY_COMMAND",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
)


def pytest_configure(config: pytest.Config) -> None:
    """Set the tests' environment once, before any test module is collected: the workflows
    read their retry policy when they are imported (a DBOS step decorator takes it then), which
    collection does, so a session fixture would come too late. Nothing is changed by importing
    this file."""
    for name, value in TEST_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    os.environ["AGENTDECK_OFFLINE_TPS"] = "0"
    for name in TEST_ENV_UNSET:
        os.environ.pop(name, None)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a PostgreSQL server for the whole session.

    ``$AGENTDECK_TEST_PG_URL`` if set (nothing is started); otherwise a
    throwaway PostgreSQL 15 started on first use and stopped at session end.
    """
    external = os.environ.get(PG_URL_ENV)
    if external:
        yield external
        return
    server = ThrowawayPostgres()
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[str]:
    """URL of a fresh, empty database on the ``pg_url`` server, dropped afterwards."""
    with fresh_pg_database(pg_url) as url:
        yield url


@contextmanager
def fresh_pg_database(pg_url: str) -> Iterator[str]:
    """A fresh, empty database on the ``pg_url`` server, dropped afterwards (fixtures of any
    scope: ``pg_database`` is one per test)."""
    name = f"agentdeck_test_{secrets.token_hex(6)}"
    with psycopg.connect(pg_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(pg_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# --------------------------------------------------------------------------------------------
# DBOS runtimes on a real SQLite file (one per test; DBOS is process-global)


def _settings(tmp_path: Path, db_url: str | None, *, cli: bool) -> RuntimeSettings:
    return RuntimeSettings(
        db_url=db_url or f"sqlite:///{tmp_path / 'agentdeck.sqlite'}",
        offline=True,
        offline_tps=0,
        state_dir=tmp_path / "state",
        polling_interval_s=0.02,
        transport_factory=None if cli else transport_factory,
    )


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'agentdeck.sqlite'}"


@asynccontextmanager
async def launched(settings: RuntimeSettings) -> AsyncIterator[Runtime]:
    """A launched embedded runtime, shut down afterwards."""
    rt = Runtime(settings)
    await asyncio.to_thread(rt.launch)
    try:
        yield rt
    finally:
        await asyncio.to_thread(rt.shutdown)


@asynccontextmanager
async def connected(db_url: str) -> AsyncIterator[Supervisor]:
    """A connected data layer, closed afterwards."""
    s = Supervisor(db_url)
    await s.connect()
    try:
        yield s
    finally:
        await s.close()


@asynccontextmanager
async def offline_deck(
    db_url: str, state_dir: Path, *, tps: float = 0
) -> AsyncIterator[Supervisor]:
    """A runtime on ``db_url`` with the offline model in-process at ``tps``, and a data layer
    connected to it."""
    settings = RuntimeSettings(
        db_url=db_url,
        offline=True,
        offline_tps=tps,
        state_dir=state_dir,
        transport_factory=transport_factory,
    )
    async with launched(settings), connected(db_url) as sup:
        yield sup


@pytest.fixture
async def runtime(tmp_path: Path, db_url: str) -> AsyncIterator[Runtime]:
    """Embedded DBOS with the offline script through the in-process SDK transport (fast)."""
    reset_faults()
    async with launched(_settings(tmp_path, db_url, cli=False)) as rt:
        yield rt


@pytest.fixture
async def cli_runtime(tmp_path: Path, db_url: str) -> AsyncIterator[Runtime]:
    """Embedded DBOS driving the real bundled Claude Code CLI against the loopback server."""
    async with launched(_settings(tmp_path, db_url, cli=True)) as rt:
        yield rt


@pytest.fixture
async def sup(db_url: str, runtime: Runtime) -> AsyncIterator[Supervisor]:
    async with connected(db_url) as s:
        yield s


@pytest.fixture
async def cli_sup(db_url: str, cli_runtime: Runtime) -> AsyncIterator[Supervisor]:
    async with connected(db_url) as s:
        yield s


async def wait_for(
    predicate: Callable[[], object], *, within: float = 20.0, interval: float = 0.02
) -> None:
    """Wait until ``predicate()`` (sync or async) is truthy, or fail after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------
# Another app's queues (tests/foreign_queues_app.py), for tests/screens/test_foreign_queues.py and
# tests/contract/test_fast_ls.py


def start_queues_app(db_url: str, cwd: Path) -> subprocess.Popen[str]:
    """The foreign queues app, once it says READY (every run where it stays)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "foreign_queues_app.py"), db_url],
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "READY":
        stop_queues_app(proc)
        raise AssertionError(f"foreign queues app did not start: {line!r}, rc {proc.poll()}")
    return proc


def stop_queues_app(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()  # the app destroys DBOS and exits
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def queues_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The foreign queues app's database, SQLite and PostgreSQL (its runs only sit there and
    the tests only read: one app per module and database)."""
    tmp = tmp_path_factory.mktemp("queues")
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'queues.sqlite'}"
        else:
            url = stack.enter_context(fresh_pg_database(request.getfixturevalue("pg_url")))
        stack.callback(stop_queues_app, start_queues_app(url, tmp))
        yield url


@pytest.fixture(scope="module")
def queues_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The foreign queues app on SQLite, for Pilot tests."""
    tmp = tmp_path_factory.mktemp("queues-ui")
    url = f"sqlite:///{tmp / 'queues.sqlite'}"
    proc = start_queues_app(url, tmp)
    try:
        yield url
    finally:
        stop_queues_app(proc)


# -- another app (tests/foreign_app.py): its database on either engine, the app running on it


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def foreign_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'foreign.sqlite'}"
    return str(request.getfixturevalue("pg_database"))


@contextmanager
def ready_app(script: Path, db_url: str, cwd: Path) -> Iterator[subprocess.Popen[str]]:
    """Another app's script on ``db_url``, once it says READY; killed afterwards."""
    proc = subprocess.Popen(
        [sys.executable, str(script), db_url],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY", proc.poll()
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


@pytest.fixture
def foreign_app(foreign_db: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    with ready_app(ROOT / "tests" / "foreign_app.py", foreign_db, tmp_path) as proc:
        yield proc
