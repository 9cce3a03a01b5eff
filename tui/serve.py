"""``agentdeck serve``: the dashboard in a browser (textual-serve), behind an access token.

Every tab textual-serve opens runs a dashboard that can cancel, fork and approve, so nothing is
served to a request that does not prove it holds the token: an aiohttp middleware on
textual-serve's own app answers 401 before any route runs (no page, no websocket, no dashboard
process, no body read). The proof is ``?token=…`` in the URL printed at start, or the cookie
the first good request sets (HttpOnly, SameSite=Strict), which the page's own follow-up
requests (static files, the websocket ``textual.js`` opens) carry.

The token is never logged: aiohttp's access log prints the request line with its query string
and the Referer, so it is replaced by one that prints the path only, and the page tells the
browser to send no Referer at all.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
import secrets
import signal
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse
from textual_serve.server import Server

__all__ = ["TOKEN_ENV", "ServeError", "TokenGate", "TokenServer", "is_loopback", "serve_token"]

#: Where a token of your own is taken from (else a random one is made at each start).
TOKEN_ENV = "AGENTDECK_SERVE_TOKEN"
#: The query parameter of the URL printed at start.
TOKEN_PARAM = "token"
#: A token of your own: URL- and cookie-safe characters only (nothing to quote), and not short.
_TOKEN_RE = re.compile(r"[A-Za-z0-9._~-]{16,}")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ServeError(Exception):
    """Why ``agentdeck serve`` will not start (one line)."""


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: ``localhost``, 127.0.0.0/8, ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def serve_token(*, no_token: bool, host: str, environ: Mapping[str, str]) -> str | None:
    """The access token to require, or ``None`` with ``--no-token`` (loopback only)."""
    if no_token:
        if not is_loopback(host):
            raise ServeError(
                f"--no-token would let anyone who can reach {host} use the dashboard; "
                "it is allowed on a loopback address only (127.0.0.1, ::1, localhost)"
            )
        return None
    own = environ.get(TOKEN_ENV)
    if own is None:
        return secrets.token_urlsafe(32)
    if not _TOKEN_RE.fullmatch(own):
        raise ServeError(
            f"${TOKEN_ENV} must be at least 16 characters of A-Z a-z 0-9 . _ ~ - "
            "(or unset it for a random token)"
        )
    return own


class TokenGate:
    """Refuses every request that does not carry the token (query or cookie): 401, nothing else.

    Cheap on purpose: no body is read, nothing is started, and the connection is closed."""

    def __init__(self, token: str, *, cookie: str) -> None:
        self._token = token.encode()
        self.cookie = cookie

    def __repr__(self) -> str:  # never the token, in a traceback's locals or anywhere
        return f"TokenGate(cookie={self.cookie!r})"

    def _matches(self, presented: str | None) -> bool:
        if not presented:
            return False
        # Constant time; encoded first (compare_digest refuses non-ASCII str).
        return hmac.compare_digest(presented.encode("utf-8", "replace"), self._token)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        by_query = self._matches(request.query.get(TOKEN_PARAM))
        if not (by_query or self._matches(request.cookies.get(self.cookie))):
            return _refuse(
                401,
                "this dashboard needs its access token: open the URL "
                "`agentdeck serve` printed (…/?token=…)\n",
            )
        if _cross_site_websocket(request):
            return _refuse(403, "websocket from another origin refused\n")
        response = await handler(request)
        if not response.prepared:  # a websocket has already been answered
            response.headers["Referrer-Policy"] = "no-referrer"
            if by_query:  # the page's own requests (static files, the websocket) carry this
                response.set_cookie(
                    self.cookie, self._token.decode(), httponly=True, samesite="Strict", path="/"
                )
        return response


def _refuse(status: int, text: str) -> web.Response:
    response = web.Response(status=status, text=text)
    response.force_close()  # no keep-alive for a refused client
    return response


def _cross_site_websocket(request: web.Request) -> bool:
    """A websocket opened by a page of another origin (the cookie is sent to any port of this
    host: SameSite does not look at ports)."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return False
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc.lower() != request.host.lower()


class _PathOnlyAccessLog(AbstractAccessLogger):
    """One line a request, with the path only: aiohttp's default prints the query string
    (``?token=…``) and the Referer (the page's URL, token included)."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.3fs',
            request.remote,
            request.method,
            request.path,
            response.status,
            time,
        )


class TokenServer(Server):
    """textual-serve's server with a :class:`TokenGate` in front of its routes (``token`` None:
    no gate, for ``--no-token`` on loopback), the URL printed once the port is bound."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        token: str | None,
        title: str,
        announce: Callable[[str], None],
    ) -> None:
        shown = f"[{host}]" if ":" in host else host  # an IPv6 address, e.g. ::1
        super().__init__(
            command, host=host, port=port, title=title, public_url=f"http://{shown}:{port}"
        )
        self.gate = None if token is None else TokenGate(token, cookie=f"agentdeck_serve_{port}")
        query = "" if token is None else f"?{TOKEN_PARAM}={token}"
        self._open_url = f"{self.public_url}/{query}"
        self._announce = announce

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        if self.gate is not None:
            app.middlewares.insert(0, self.gate.middleware)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Nothing: textual-serve's banner names the command (``--db`` may hold a password)
        and a URL without the token."""

    def serve(self, debug: bool = False) -> None:
        """textual-serve's ``Server.serve``, with the access log cut to the path, unread
        bodies never waited for (``lingering_time=0``), and the URL announced once the port
        is bound (aiohttp's ``print`` hook) rather than before."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(
            self._make_app(),
            host=self.host,
            port=self.port,
            handle_signals=False,
            loop=loop,
            print=lambda _banner: self._announce(self._open_url),
            access_log_class=_PathOnlyAccessLog,
            lingering_time=0,
        )
