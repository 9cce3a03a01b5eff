"""`agentdeck serve` lets in the URL it printed and no one else (tui/serve.py).

Every test starts the real `agentdeck serve` as a subprocess on a free loopback port, attached
to a temp SQLite DBOS database, waits for the URL it prints, and talks to it with real HTTP and
websocket clients (aiohttp); one test drives a real headless Chromium. A dashboard process is
seen three ways: the server's descendants in /proc, their command lines, and the state dir a
dashboard creates when it starts (the server itself never does).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

TOKEN_ENV = "AGENTDECK_SERVE_TOKEN"
OWN_TOKEN = "Own-Serve-Token.0123456789_abcdef~XYZ"
URL_RE = re.compile(r"http://\S+")


# --------------------------------------------------------------------------------------------
# helpers


@pytest.fixture(scope="module")
def deck_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DBOS system database (tables made by an embedded runtime started once, in a child)."""
    d = tmp_path_factory.mktemp("serve-db")
    url = f"sqlite:///{d / 'deck.sqlite'}"
    code = (
        "import sys; from pathlib import Path\n"
        "from workflows.runtime import Runtime, RuntimeSettings\n"
        "s = RuntimeSettings(db_url=sys.argv[1], offline=True, state_dir=Path(sys.argv[2]))\n"
        "rt = Runtime(s); rt.launch(); rt.shutdown()\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, url, str(d / "state")],
        check=True,
        timeout=90,
        cwd=d,
        capture_output=True,
    )
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` now (from /proc/*/stat)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        frontier += kids
    return found


def proc_file(pid: int, name: str) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/{name}").read_bytes().split(b"\0")
    except OSError:
        return []


class Served:
    """A running `agentdeck serve`: its output as it comes (read by two threads), the URL."""

    def __init__(self, proc: subprocess.Popen[str], port: int, state: Path) -> None:
        self.proc, self.port, self.state = proc, port, state
        self.base = f"http://127.0.0.1:{port}"
        self.lines: list[tuple[str, str]] = []  # (stream, line)
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("stdout", proc.stdout), ("stderr", proc.stderr))
        ]
        for t in self._readers:
            t.start()
        self.url = ""

    def _read(self, name: str, stream: object) -> None:
        assert hasattr(stream, "readline")
        for line in iter(stream.readline, ""):
            with self._cond:
                self.lines.append((name, line))
                self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "".join(line for _, line in self.lines)

    def wait_for_url(self, within: float = 60) -> str:
        def printed() -> bool:
            return self.proc.poll() is not None or any(
                URL_RE.search(line) for name, line in self.lines if name == "stdout"
            )

        with self._cond:
            assert self._cond.wait_for(printed, timeout=within), "no URL printed"
        assert self.proc.poll() is None, f"serve exited: {self.output}"
        first = next(line for name, line in self.lines if name == "stdout")
        match = URL_RE.search(first)
        assert match, f"the first line is not the URL: {first!r}"
        self.url = match.group(0)
        return self.url

    @property
    def token(self) -> str:
        return dict(pair.split("=", 1) for pair in urlsplit(self.url).query.split("&"))["token"]

    def dashboards(self) -> list[int]:
        """The dashboards textual-serve has started (``python -m tui.cli`` under the server)."""
        return [p for p in descendants(self.proc.pid) if b"tui.cli" in proc_file(p, "cmdline")]

    def stop(self) -> str:
        """Stop the server (SIGTERM, as ctrl+c), anything it left behind; its whole output."""
        left = descendants(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            for pid in left:  # the dashboards it started, if still there
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for t in self._readers:
            t.join(timeout=10)
        return self.output


@contextmanager
def serving(
    tmp_path: Path, db: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[Served]:
    port = free_port()
    state = tmp_path / "state"
    # COLUMNS: the log's console (rich) wraps at the width, which could cut a token in two.
    environ = dict(
        os.environ,
        AGENTDECK_STATE_DIR=str(state),
        PYTHONUNBUFFERED="1",
        COLUMNS="1000",
        **env or {},
    )
    if env is None or TOKEN_ENV not in env:
        environ.pop(TOKEN_ENV, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli", "serve", "--db", db, "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        cwd=tmp_path,
    )
    served = Served(proc, port, state)
    try:
        served.wait_for_url()
        yield served
    finally:
        served.stop()


def session() -> aiohttp.ClientSession:
    # unsafe=True: aiohttp's jar otherwise keeps no cookie for an IP address such as 127.0.0.1
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def ws_status(
    s: aiohttp.ClientSession,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    origin: str | None = None,
) -> int:
    """The status a websocket handshake gets (101 when it is let in; then closed)."""
    try:
        async with s.ws_connect(url, headers=headers, origin=origin):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


async def screen_until(ws: aiohttp.ClientWebSocketResponse, needle: bytes) -> bytes:
    """What the dashboard draws over the websocket, until ``needle`` is in it."""
    await ws.send_json(["resize", {"width": 120, "height": 40}])
    screen = b""
    async with asyncio.timeout(60):
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                chunk: bytes = msg.data
                screen += chunk
                if needle in screen:
                    return screen
    raise AssertionError(f"the websocket closed before {needle!r}: {screen[-500:]!r}")


def assert_refused(status: int, body: str) -> None:
    assert status == 401, (status, body[:200])
    assert "<html" not in body.lower() and "textual" not in body.lower()


def assert_no_dashboard(served: Served) -> None:
    assert descendants(served.proc.pid) == []
    assert not served.state.exists(), "a dashboard started (it made its state dir)"


# --------------------------------------------------------------------------------------------
# refused


PATHS = ["/", "/static/js/textual.js", "/static/", "/download/some-key", "/no-such-page", "/ws"]


async def test_without_the_token_nothing_is_served(tmp_path: Path, deck_db: str) -> None:
    """No proof, a wrong one, an empty one, the token in another case, a prefix of it, the
    right token under another name: 401 and a line of text on every path (the page, static
    files, downloads, the websocket), and no dashboard started."""
    with serving(tmp_path, deck_db) as served:
        token = served.token
        assert token.swapcase() != token and len(token) >= 32
        cookie = f"agentdeck_serve_{served.port}"
        wrong: list[tuple[str, dict[str, str]]] = [
            ("", {}),
            ("?token=wrong", {}),
            ("?token=", {}),
            (f"?token={token.swapcase()}", {}),
            (f"?token={token.upper()}", {}),
            (f"?token={token[:-1]}", {}),
            (f"?token={token}x", {}),
            (f"?TOKEN={token}", {}),
            ("", {"Cookie": f"{cookie}=wrong"}),
            ("", {"Cookie": f"{cookie}="}),
            ("", {"Cookie": f"{cookie}={token.swapcase()}"}),
            ("", {"Cookie": f"agentdeck_serve_1={token}"}),
            ("", {"Authorization": f"Bearer {token}"}),
        ]
        async with session() as s:
            for path in PATHS:
                for query, headers in wrong:
                    async with s.get(served.base + path + query, headers=headers) as r:
                        assert_refused(r.status, await r.text())
                        assert "Set-Cookie" not in r.headers
                    ws = await ws_status(s, served.base + "/ws" + query, headers=headers)
                    assert ws == 401, (query, headers)
            assert len(s.cookie_jar) == 0
        assert_no_dashboard(served)


async def test_a_burst_of_strangers_is_cheap(tmp_path: Path, deck_db: str) -> None:
    """200 unauthenticated requests at once (pages, files, websocket handshakes, bodies):
    all 401, no dashboard process; a request that announces a 1 GB body is answered at once and
    its connection closed, the body never waited for (aiohttp would read on for 10 s)."""
    with serving(tmp_path, deck_db) as served:
        async with session() as s:

            async def one(i: int) -> int:
                url = served.base + PATHS[i % len(PATHS)] + ("?token=nope" if i % 3 else "")
                if i % 4 == 0:
                    return await ws_status(s, url)
                if i % 4 == 1:
                    async with s.post(url, data=b"x" * 65536) as r:
                        return r.status
                async with s.get(url) as r:
                    await r.read()
                    return r.status

            statuses = await asyncio.gather(*(one(i) for i in range(200)))
        assert statuses == [401] * 200
        assert_no_dashboard(served)

        reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
        writer.write(
            b"POST /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1073741824\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n"
        )
        await writer.drain()
        async with asyncio.timeout(5):  # EOF: the server closed without reading the body
            answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]
        assert_no_dashboard(served)


# --------------------------------------------------------------------------------------------
# let in


async def test_the_printed_url_lets_the_page_its_files_and_its_websocket_in(
    tmp_path: Path, deck_db: str
) -> None:
    """The URL printed (random token): the page; its cookie (HttpOnly, SameSite=Strict) then
    carries the page's static files and the websocket (whose URL has no token), which runs a
    dashboard; the same cookie from a page of another origin is refused."""
    with serving(tmp_path, deck_db) as served:
        assert served.url == f"{served.base}/?token={served.token}"
        cookie = f"agentdeck_serve_{served.port}"
        async with session() as s:
            async with s.get(served.url) as r:
                page = await r.text()
                assert r.status == 200 and 'class="textual-terminal"' in page
                assert r.headers["Referrer-Policy"] == "no-referrer"
                morsel = r.cookies[cookie]
                assert morsel.value == served.token
                assert morsel["httponly"] and morsel["samesite"] == "Strict"
                assert morsel["path"] == "/"
            ws_url = re.search(r'data-session-websocket-url="([^"]+)"', page)
            assert ws_url and "token" not in ws_url.group(1)
            async with s.get(f"{served.base}/static/js/textual.js") as r:
                assert r.status == 200 and "WebSocket" in await r.text()
            assert await ws_status(s, ws_url.group(1), origin="http://evil.example") == 403
            assert_no_dashboard(served)
            async with s.ws_connect(ws_url.group(1) + "?width=120&height=40") as ws:
                await screen_until(ws, b"AgentDeck")
                assert len(served.dashboards()) == 1
        async with session() as stranger:  # the same URL without the cookie
            assert await ws_status(stranger, ws_url.group(1)) == 401


async def test_read_only_own_token_and_the_token_is_printed_once(
    tmp_path: Path, deck_db: str
) -> None:
    """`--read-only` with $AGENTDECK_SERVE_TOKEN: the URL holds that token; a websocket with
    it in its URL runs a dashboard started with --read-only that says so on screen, and
    without the token in its environment; afterwards the token is in the output once, in the
    URL line, though the access log printed the requests that carried it."""
    with serving(tmp_path, deck_db, "--read-only", env={TOKEN_ENV: OWN_TOKEN}) as served:
        assert served.url == f"{served.base}/?token={OWN_TOKEN}"
        async with aiohttp.ClientSession() as s:  # no cookie jar: the token in each URL
            async with s.get(served.url) as r:
                assert r.status == 200
            page_ref = {"Referer": served.url}  # what a browser would send without the policy
            async with s.get(f"{served.base}/static/css/xterm.css", headers=page_ref) as r:
                assert r.status == 401
            async with s.get(f"{served.url}&x=1", headers=page_ref) as r:
                assert r.status == 200
            ws_url = f"ws://127.0.0.1:{served.port}/ws?token={OWN_TOKEN}&width=120&height=40"
            async with s.ws_connect(ws_url) as ws:
                screen = await screen_until(ws, b"read-only")
                assert b"attach \xc2\xb7 " in screen  # the mode, then "read-only" in bold
                (dashboard,) = served.dashboards()
                assert b"--read-only" in proc_file(dashboard, "cmdline")
                environ = proc_file(dashboard, "environ")
                assert environ and not any(e.startswith(TOKEN_ENV.encode()) for e in environ)
                assert (served.state / "agentdeck.log").exists()
        output = served.stop()
    assert output.count(OWN_TOKEN) == 1, output
    assert OWN_TOKEN in output.splitlines()[0]
    assert "read-only dashboard" in output.splitlines()[0]
    assert '"GET /static/css/xterm.css" 401' in output and '"GET /" 200' in output
    assert '"GET /ws" 101' in output


# --------------------------------------------------------------------------------------------
# --no-token and bad tokens


def run_serve(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = dict(os.environ, AGENTDECK_STATE_DIR=str(tmp_path / "state"), **env or {})
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", "serve", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        env=environ,
        cwd=tmp_path,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--no-token", "--host", "0.0.0.0"], {}, "allowed on a loopback address only"),
        (["--no-token", "--host", "192.0.2.1"], {}, "allowed on a loopback address only"),
        (["--no-token", "--host", "deck.example"], {}, "allowed on a loopback address only"),
        ([], {TOKEN_ENV: "short"}, "at least 16 characters"),
        ([], {TOKEN_ENV: ""}, "at least 16 characters"),
        ([], {TOKEN_ENV: "sixteen chars or more but a space"}, "at least 16 characters"),
    ],
)
def test_serve_refuses_to_start_in_one_line(
    tmp_path: Path, args: list[str], env: dict[str, str], needle: str
) -> None:
    out = run_serve(tmp_path, *args, env=env)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert needle in out.stderr and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


async def test_no_token_on_loopback_serves_without_one(tmp_path: Path, deck_db: str) -> None:
    with serving(tmp_path, deck_db, "--no-token", "--host", "127.0.0.1") as served:
        assert served.url == f"{served.base}/"
        assert "no token" in served.lines[0][1]
        async with aiohttp.ClientSession() as s:
            async with s.get(served.base + "/") as r:
                assert r.status == 200 and "textual-terminal" in await r.text()
            async with s.get(served.base + "/static/js/textual.js") as r:
                assert r.status == 200


# --------------------------------------------------------------------------------------------
# a real browser

CHROMIUM = shutil.which("chromium")


def dump_dom(url: str, profile: Path) -> str:
    """The DOM headless Chromium ends with, after running the page's scripts (the budget lets
    textual.js open its websocket)."""
    out = subprocess.run(
        [
            CHROMIUM or "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")
def test_headless_chromium_gets_the_dashboard_with_the_token_only(
    tmp_path: Path, deck_db: str
) -> None:
    """A browser, not a client of ours: without the token the 401 text and no page; with it,
    the textual-serve page whose websocket (no token in its URL: the cookie) opened."""
    with serving(tmp_path, deck_db) as served:
        refused = dump_dom(served.base + "/", tmp_path / "profile-a")
        assert "needs its access token" in refused and "textual-terminal" not in refused
        shown = dump_dom(served.url, tmp_path / "profile-b")
        assert 'class="textual-terminal' in shown
        body = re.search(r"<body[^>]*>", shown)
        assert body and "-loaded" in body.group(0), body  # textual.js: the websocket's "open"
        assert served.token not in shown
