"""Connection-level limits of the REST server: read deadlines, a connection cap, quiet bad requests.

TF Serving's HTTP server (libevent 2.1.12's evhttp, as TF Serving builds it)
sets no read timeout and no connection limit: a client that sends its
headers or body a byte at a time, or opens connections and sends nothing,
holds a descriptor for as long as it likes. This module adds, on top of
aiohttp's `RequestHandler` protocol:

- a header deadline: from the moment a connection is accepted (or the first
  byte of a later request on a kept-alive connection arrives) the whole header
  block must be in within `header_timeout_s`;
- a body deadline: once the headers are in, the whole body must be in within
  `body_timeout_s`;
- a cap of `max_connections` open connections: one more is answered libevent
  2.2's way (`evhttp_set_max_connections`): a 503 page and the connection
  closed, without reading it.

A connection that misses a deadline is closed without an answer, as libevent
does on its own read timeouts (`evhttp_connection_incoming_fail`). A request
that does not parse as HTTP gets libevent's HTML error page (400 Bad Request)
and one DEBUG log line instead of aiohttp's logged traceback.
"""

import asyncio
import http
import logging
import time

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from kerasnets.serving.server import libevent_error_page

LOG = logging.getLogger("kerasnets.serving")

_LOGGED_TEXT_CHARS = 200
_REFUSAL_WARNING_INTERVAL_S = 60.0


def _one_line(text):
    """`text` on one line, at most _LOGGED_TEXT_CHARS characters (it may echo a client's bytes)."""
    text = " ".join(str(text).split())
    return text if len(text) <= _LOGGED_TEXT_CHARS else text[:_LOGGED_TEXT_CHARS] + "..."


class ConnectionLimits:
    """The limits shared by every connection of one server, and its count of open connections."""

    def __init__(self, *, header_timeout_s, body_timeout_s, keepalive_timeout_s, max_connections):
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.keepalive_timeout_s = keepalive_timeout_s
        self.max_connections = max_connections
        self.open_connections = 0  # only touched on the event loop thread
        self._last_refusal_warning = None

    def admit(self):
        """Count one more open connection, or return False when `max_connections` are open (<= 0: no cap)."""
        if 0 < self.max_connections <= self.open_connections:
            now = time.monotonic()
            if self._last_refusal_warning is None or now - self._last_refusal_warning >= _REFUSAL_WARNING_INTERVAL_S:
                self._last_refusal_warning = now
                LOG.warning("Refusing connections: %d are open (max_connections=%d)",
                            self.open_connections, self.max_connections)
            return False
        self.open_connections += 1
        return True

    def release(self):
        self.open_connections -= 1


def _refusal_bytes():
    page = libevent_error_page(503, "Service Unavailable")
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {page.content_type}\r\n"
        f"Content-Length: {len(page.body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + page.body


class GuardedRequestHandler(RequestHandler):
    """aiohttp's HTTP/1.1 protocol with the deadlines and the cap of `ConnectionLimits`.

    One timer per connection: armed for the header deadline when the
    connection is accepted or a new request's first byte arrives, re-armed for
    the body deadline when a header block completes with a body still to
    come, cleared when the body is complete. Idle keep-alive connections are
    closed by aiohttp's own `keepalive_timeout`.
    """

    def __init__(self, manager, *, limits, **kwargs):
        super().__init__(manager, keepalive_timeout=limits.keepalive_timeout_s, **kwargs)
        self._limits = limits
        self._admitted = False
        self._deadline = None  # asyncio.TimerHandle of the running deadline
        self._body = None  # StreamReader of a body still being received

    # --- connection ------------------------------------------------------------

    def connection_made(self, transport):
        if not self._limits.admit():
            transport.write(_refusal_bytes())
            transport.close()  # after the answer is flushed
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm(self._limits.header_timeout_s, self._header_deadline_passed)

    def connection_lost(self, exc):
        self._disarm()
        if not self._admitted:
            return
        self._admitted = False
        self._limits.release()
        super().connection_lost(exc)

    def data_received(self, data):
        if (self._deadline is None and data and self._body is None and not self._request_in_progress
                and not self._force_close):
            self._arm(self._limits.header_timeout_s, self._header_deadline_passed)
        requests_before = self._request_count
        super().data_received(data)
        if self._request_count != requests_before:  # a header block is complete
            self._disarm()
            payload = self._messages[-1][1] if self._messages else None
            if payload is not None and not payload.is_eof():
                self._body = payload
                self._arm(self._limits.body_timeout_s, self._body_deadline_passed)
        elif self._body is not None and self._body.is_eof():
            self._body = None
            self._disarm()

    # --- deadlines -------------------------------------------------------------

    def _arm(self, seconds, callback):
        self._disarm()
        if seconds is not None and seconds > 0:
            self._deadline = self._loop.call_later(seconds, callback)

    def _disarm(self):
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _header_deadline_passed(self):
        self._deadline = None
        if self._request_in_progress or self._force_close:
            return
        LOG.debug("Closing the connection from %s: no complete request headers within %s s",
                  self.peername, self._limits.header_timeout_s)
        self.force_close()

    def _body_deadline_passed(self):
        self._deadline = None
        if self._body is None or self._body.is_eof() or self._force_close:
            return
        LOG.debug("Closing the connection from %s: request body not complete within %s s",
                  self.peername, self._limits.body_timeout_s)
        self._body = None
        self.force_close()

    # --- requests that are not HTTP --------------------------------------------

    def handle_error(self, request, status=500, exc=None, message=None):
        """libevent's error page for a request aiohttp could not parse, with one DEBUG line."""
        if status == http.HTTPStatus.INTERNAL_SERVER_ERROR:
            return super().handle_error(request, status, exc, message)
        LOG.debug("Bad HTTP request from %s: %s", request.remote, _one_line(message or exc or status))
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Bad Request"
        page = libevent_error_page(status, reason)
        response = web.Response(status=status, body=page.body, headers={"Content-Type": page.content_type})
        response.force_close()
        return response


class GuardedSockSite(web.BaseSite):
    """An aiohttp site on an already bound socket whose connections are `GuardedRequestHandler`s."""

    def __init__(self, runner, sock, limits):
        super().__init__(runner)
        self._sock = sock
        self._limits = limits
        self._loop = None

    @property
    def name(self):
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def _protocol(self):
        return GuardedRequestHandler(self._runner.server, loop=self._loop, limits=self._limits, access_log=None)

    async def start(self):
        await super().start()
        self._loop = asyncio.get_running_loop()
        self._server = await self._loop.create_server(self._protocol, sock=self._sock, backlog=self._backlog)
