"""The throwaway PostgreSQL helper and the ``pg_url`` / ``pg_database`` fixtures."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.pg import PG_URL_ENV, PostgresError, ThrowawayPostgres, find_pg_bin

pytestmark = pytest.mark.postgres


def _with_password(url: str, password: str | None) -> str:
    parts = urlsplit(url)
    assert parts.username and parts.hostname and parts.port
    auth = parts.username if password is None else f"{parts.username}:{password}"
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.hostname}:{parts.port}"))


def _select_1(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute("select 1").fetchone()
    assert row is not None
    value: int = row[0]
    return value


def test_pg_url_connects(pg_url: str) -> None:
    assert pg_url.startswith("postgresql://")
    assert _select_1(pg_url) == 1


def test_wrong_password_is_rejected(pg_url: str) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _select_1(_with_password(pg_url, "definitely-not-the-password"))


def test_missing_password_is_rejected(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setenv("PGPASSFILE", os.devnull)
    with pytest.raises(psycopg.OperationalError, match="password"):
        _select_1(_with_password(pg_url, None))


def test_pg_database_is_fresh(pg_url: str, pg_database: str) -> None:
    name = urlsplit(pg_database).path.lstrip("/")
    assert name.startswith("agentdeck_test_")
    with psycopg.connect(pg_database, autocommit=True) as conn:
        row = conn.execute("select current_database()").fetchone()
        assert row == (name,)
        tables = conn.execute(
            "select count(*) from information_schema.tables where table_schema = 'public'"
        ).fetchone()
        assert tables == (0,)
        conn.execute("create table t (x int)")
    with psycopg.connect(pg_url) as conn:
        cur = conn.execute("select count(*) from pg_database where datname = %s", (name,))
        assert cur.fetchone() == (1,)


def _have_pg_binaries() -> bool:
    try:
        find_pg_bin()
    except PostgresError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(
    bool(os.environ.get(PG_URL_ENV)) and not _have_pg_binaries(),
    reason=f"{PG_URL_ENV} is set and no PostgreSQL binaries are installed",
)
def test_pause_and_resume() -> None:
    server = ThrowawayPostgres()
    try:
        url = server.start()
        assert url == server.url
        port, data_dir = server.port, server.data_dir
        assert f"@127.0.0.1:{port}/postgres" in url
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table survives_pause (x int)")
            conn.execute("insert into survives_pause values (42)")

        server.pause()
        assert data_dir.is_dir()
        with pytest.raises(psycopg.OperationalError):
            _select_1(url)

        server.resume()
        assert server.port == port and server.url == url
        with psycopg.connect(url) as conn:
            assert conn.execute("select x from survives_pause").fetchone() == (42,)
    finally:
        server.stop()
    assert not data_dir.exists()
    with pytest.raises(psycopg.OperationalError):
        _select_1(url)
    server.stop()  # idempotent
