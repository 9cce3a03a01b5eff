"""A throwaway PostgreSQL server for the test suite.

``ThrowawayPostgres`` runs ``initdb`` into a fresh temporary directory, starts the
server on 127.0.0.1 on a free TCP port (unix socket inside the temp directory),
and hands back a ``postgresql://agentdeck:<password>@127.0.0.1:PORT/postgres``
URL.  Host connections use scram-sha-256 with a randomly generated password;
only the unix socket inside the private temp directory is ``trust``.

PostgreSQL refuses to run as root, so when the current uid is 0 every server
command runs as the ``postgres`` system user (via ``runuser``, else ``su``) and
the temp directory is chowned to that user.

Cleanup is layered so that no server outlives the test process:

* ``stop()`` (idempotent) shuts the server down with ``-m immediate`` and
  removes the data directory;
* every started instance is stopped from an ``atexit`` hook;
* a tiny watchdog process holds the read end of a pipe whose write end only
  this process has; if this process dies without calling ``stop()`` (SIGKILL,
  ``os._exit``), the watchdog sees EOF and stops the server and removes the
  directory itself.
"""

from __future__ import annotations

import atexit
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import psycopg

__all__ = ["PG_URL_ENV", "PostgresError", "ThrowawayPostgres", "find_pg_bin"]

#: When set, the ``pg_url`` fixture uses this URL and starts nothing.
PG_URL_ENV = "AGENTDECK_TEST_PG_URL"

ROLE = "agentdeck"
_SERVER_USER = "postgres"
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes; ".s.PGSQL.NNNNN" must fit too

_CONFIG = """
# --- added by tests/pg.py (throwaway test server) ---
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
logging_collector = off
log_min_messages = warning
"""

# Runs in a separate process: waits for EOF on stdin (the parent closed the pipe
# or died), then, unless the parent said "stopped", stops the server and removes
# the directory.  argv[1] is a JSON list: [stop command, directory to remove].
_WATCHDOG = """
import json, shutil, subprocess, sys
stop_cmd, base = json.loads(sys.argv[1])
try:
    said = sys.stdin.buffer.read()
except BaseException:
    said = b""
if b"stopped" not in said:
    try:
        subprocess.run(stop_cmd, cwd="/", stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    except Exception:
        pass
    shutil.rmtree(base, ignore_errors=True)
"""


class PostgresError(RuntimeError):
    """The throwaway server could not be set up, started or stopped."""


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin -> numeric version for sorting
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def find_pg_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    Honours ``$PG_BIN``; else the newest ``/usr/lib/postgresql/*/bin``; else
    wherever ``pg_ctl`` on ``PATH`` really lives (symlinks resolved).
    """
    env = os.environ.get("PG_BIN")
    if env:
        path = Path(env)
        if not (path / "initdb").is_file() or not (path / "pg_ctl").is_file():
            raise PostgresError(f"PG_BIN={env!r} does not contain initdb and pg_ctl")
        return path
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").is_file()]
    if candidates:
        return max(candidates, key=_version_key)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None:
        path = Path(pg_ctl).resolve().parent
        if (path / "initdb").is_file():
            return path
    raise PostgresError(
        "PostgreSQL binaries not found: set PG_BIN, install PostgreSQL under "
        "/usr/lib/postgresql/<version>/bin, or put initdb/pg_ctl on PATH"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _traversable_by_others(path: Path) -> bool:
    """Whether every ancestor of ``path`` is world-searchable (o+x)."""
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & 0o001:
                return False
        except OSError:
            return False
    return True


class ThrowawayPostgres:
    """A private PostgreSQL server living in a temp dir, for tests."""

    def __init__(self, *, port: int | None = None) -> None:
        self._requested_port = port
        self._port: int | None = port
        self._password = secrets.token_urlsafe(24)
        self._bin: Path | None = None
        self._base: Path | None = None
        self._running = False
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._lock = threading.RLock()
        self.start_seconds: float | None = None  # wall time of the last start/resume

    # ----------------------------------------------------------------- properties
    @property
    def url(self) -> str:
        """``postgresql://agentdeck:<password>@127.0.0.1:PORT/postgres``."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        return (
            f"postgresql://{ROLE}:{quote(self._password, safe='')}"
            f"@127.0.0.1:{self.port}/{quote(dbname, safe='')}"
        )

    @property
    def port(self) -> int:
        if self._port is None:
            raise PostgresError("server has not been started yet")
        return self._port

    @property
    def password(self) -> str:
        return self._password

    @property
    def data_dir(self) -> Path:
        return self._require_base() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_base() / "socket"

    @property
    def log_file(self) -> Path:
        return self._require_base() / "server.log"

    @property
    def running(self) -> bool:
        return self._running

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> str:
        """initdb + start; returns the URL.  Calling it again while running is a no-op."""
        with self._lock:
            if self._running:
                return self.url
            if self._base is not None:
                raise PostgresError("already initialised: use resume() after pause()")
            t0 = time.monotonic()
            self._bin = find_pg_bin()
            self._make_base()
            _register(self)
            try:
                self._initdb()
                self._start_with_port_retry()
            except BaseException:
                self.stop()
                raise
            self.start_seconds = time.monotonic() - t0
            return self.url

    def stop(self) -> None:
        """Immediate shutdown and removal of the data dir.  Idempotent, never raises
        for an already stopped or half set-up server."""
        with self._lock:
            base = self._base
            if base is None:
                return
            if self._running or (base / "data" / "postmaster.pid").exists():
                try:
                    self._pg_ctl_stop("immediate")
                except PostgresError:
                    self._kill_postmaster()
            self._running = False
            shutil.rmtree(base, ignore_errors=True)
            self._base = None
            self._close_watchdog(stopped=True)
            _unregister(self)

    def pause(self) -> None:
        """Stop the server (fast shutdown) but keep the data dir and port."""
        with self._lock:
            self._require_base()
            if not self._running:
                return
            self._pg_ctl_stop("fast")
            self._running = False

    def resume(self) -> None:
        """Start a paused server again on the same port."""
        with self._lock:
            self._require_base()
            if self._running:
                return
            t0 = time.monotonic()
            self._start_server()
            self.start_seconds = time.monotonic() - t0

    def __enter__(self) -> ThrowawayPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -------------------------------------------------------------------- helpers
    def _require_base(self) -> Path:
        if self._base is None:
            raise PostgresError("server has not been started (or was stopped)")
        return self._base

    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _cmd(self, argv: Sequence[str]) -> list[str]:
        """``argv`` run as the postgres user when we are root, else as is."""
        if not self._as_root():
            return list(argv)
        runuser = shutil.which("runuser")
        if runuser is not None:
            return [runuser, "-u", _SERVER_USER, "--", *argv]
        su = shutil.which("su")
        if su is not None:
            return [su, "-s", "/bin/sh", _SERVER_USER, "-c", shlex.join(argv)]
        raise PostgresError("running as root but neither runuser nor su is available")

    def _run(self, argv: Sequence[str], *, timeout: float = 120) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "LC_ALL"}
        env["LC_ALL"] = "C"
        try:
            proc = subprocess.run(
                self._cmd(argv),
                cwd=self._base or "/",
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresError(f"{argv[0]} timed out after {timeout}s") from exc
        if proc.returncode != 0:
            raise PostgresError(
                f"{shlex.join(argv)} failed ({proc.returncode}):\n"
                f"{proc.stdout}{proc.stderr}{self._log_tail()}"
            )
        return proc.stdout

    def _tool(self, name: str) -> str:
        assert self._bin is not None
        return str(self._bin / name)

    def _make_base(self) -> None:
        parent: str | None = None
        owner: tuple[int, int] | None = None
        if self._as_root():
            try:
                pw = pwd.getpwnam(_SERVER_USER)
            except KeyError as exc:
                raise PostgresError(
                    f"running as root but there is no {_SERVER_USER!r} system user"
                ) from exc
            owner = (pw.pw_uid, pw.pw_gid)
            # the postgres user must be able to reach the directory
            if not _traversable_by_others(Path(tempfile.gettempdir())):
                parent = "/tmp"
        tmp = Path(tempfile.mkdtemp(prefix="agentdeck-pg-", dir=parent))
        if len(str(tmp / "socket" / ".s.PGSQL.65535")) > _SOCKET_PATH_MAX:
            tmp.rmdir()
            tmp = Path(tempfile.mkdtemp(prefix="adpg-", dir="/tmp"))
        self._base = tmp
        (tmp / "socket").mkdir(mode=0o700)
        if owner is not None:
            for path in (tmp, tmp / "socket"):
                os.chown(path, *owner)
        self._start_watchdog()

    def _initdb(self) -> None:
        base = self._require_base()
        pwfile = base / "pwfile"
        pwfile.write_text(self._password + "\n")
        pwfile.chmod(0o600)
        if self._as_root():
            shutil.chown(pwfile, user=_SERVER_USER)
        try:
            self._run(
                [
                    self._tool("initdb"),
                    "--pgdata",
                    str(self.data_dir),
                    "--username",
                    ROLE,
                    "--pwfile",
                    str(pwfile),
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _write_config(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        # Later lines win; rewrite our trailing block on every start.
        text = conf.read_text() if conf.exists() else ""
        marker = "# --- added by tests/pg.py"
        if marker in text:
            text = text[: text.index(marker)]
        text += _CONFIG.format(port=self.port, socket_dir=self.socket_dir).lstrip("\n")
        conf.write_text(text)  # rewriting in place keeps the postgres ownership

    def _start_with_port_retry(self) -> None:
        attempts = 1 if self._requested_port is not None else 5
        for attempt in range(attempts):
            if self._requested_port is None:
                self._port = _free_port()
            try:
                self._start_server()
                return
            except PostgresError:
                if attempt == attempts - 1 or _port_is_free(self.port):
                    raise
                # lost a race for the port: pick another one

    def _start_server(self) -> None:
        self._write_config()
        self.log_file.unlink(missing_ok=True)
        if self._as_root():
            self.log_file.touch()
            shutil.chown(self.log_file, user=_SERVER_USER)
        # -w: pg_ctl polls the postmaster until it accepts connections (or died).
        self._run(
            [
                self._tool("pg_ctl"),
                "--pgdata",
                str(self.data_dir),
                "--log",
                str(self.log_file),
                "--wait",
                "--timeout",
                str(int(_START_TIMEOUT)),
                "start",
            ],
            timeout=_START_TIMEOUT + 10,
        )
        self._running = True
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Poll a real password-authenticated TCP connection until it works."""
        deadline = time.monotonic() + _START_TIMEOUT
        delay = 0.01
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=5) as conn:
                    conn.execute("select 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresError(
                        f"server on port {self.port} not ready after {_START_TIMEOUT}s: "
                        f"{exc}{self._log_tail()}"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _pg_ctl_stop(self, mode: str) -> None:
        self._run(
            [
                self._tool("pg_ctl"),
                "--pgdata",
                str(self.data_dir),
                "--mode",
                mode,
                "--wait",
                "--timeout",
                str(_STOP_TIMEOUT),
                "stop",
            ],
            timeout=_STOP_TIMEOUT + 10,
        )

    def _kill_postmaster(self) -> None:
        """Last resort: SIGKILL the postmaster named in *our* postmaster.pid."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGQUIT)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_file.read_text(errors="replace")
        except (OSError, PostgresError):
            return ""
        tail = "\n".join(text.splitlines()[-lines:])
        return f"\n--- server log ({self.log_file}) ---\n{tail}" if tail else ""

    def _start_watchdog(self) -> None:
        base = self._require_base()
        assert self._bin is not None
        stop_cmd = self._cmd(
            [
                str(self._bin / "pg_ctl"),
                "--pgdata",
                str(base / "data"),
                "--mode",
                "immediate",
                "--wait",
                "stop",
            ]
        )
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, json.dumps([stop_cmd, str(base)])],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            start_new_session=True,  # survives a Ctrl-C / SIGINT to our process group
        )

    def _close_watchdog(self, *, stopped: bool) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is None or watchdog.stdin is None:
            return
        try:
            if stopped:
                watchdog.stdin.write(b"stopped\n")
            watchdog.stdin.close()
        except OSError:
            pass
        try:
            watchdog.wait(timeout=10)
        except subprocess.TimeoutExpired:
            watchdog.kill()
            watchdog.wait()


# ------------------------------------------------------------ atexit bookkeeping
_live_lock = threading.Lock()
_keep: dict[int, ThrowawayPostgres] = {}


def _register(server: ThrowawayPostgres) -> None:
    # Hold a strong reference while a server may be running, so that atexit finds
    # it even if the caller dropped every reference.
    with _live_lock:
        _keep[id(server)] = server


def _unregister(server: ThrowawayPostgres) -> None:
    with _live_lock:
        _keep.pop(id(server), None)


@atexit.register
def _stop_all() -> None:
    with _live_lock:
        servers = list(_keep.values())
    for server in servers:
        try:
            server.stop()
        except Exception as exc:  # pragma: no cover - best effort at exit
            print(f"tests/pg.py: could not stop throwaway PostgreSQL: {exc}", file=sys.stderr)


def main() -> None:
    """`python -m tests.pg` (or `make pg`): a throwaway server for trying workers by hand."""
    server = ThrowawayPostgres()
    url = server.start()
    print(url, flush=True)
    print("PostgreSQL is up; ctrl+c stops it and deletes its data.", file=sys.stderr, flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
