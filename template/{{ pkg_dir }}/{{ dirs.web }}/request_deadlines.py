"""uvicorn's HTTP protocol with a deadline on the request itself (``serve`` runs it).

uvicorn times out only a keep-alive connection left idle after a response. A client
that sends nothing, or trickles its headers or its body, holds a socket (a descriptor and
its buffers) for as long as it likes, and a few thousand of them keep everyone else out.
Here the headers must be in within ``HEADER_SECONDS`` of the connection (or of the first
byte of the next request on it), and the body within ``BODY_SECONDS`` of the headers;
else the connection is closed. The app is never waited for: only the client is timed.
"""

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_SECONDS = 5.0  # nginx allows 60 s per read; a whole head takes one round trip
BODY_SECONDS = 10.0  # the API's largest body (64 KiB) on a slow mobile link, with room


class DeadlineProtocol(HttpToolsProtocol):
    """What ``uvicorn --http`` names; each connection gets its own instance."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(HEADER_SECONDS)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # the next request of a kept-alive connection
            self._arm(HEADER_SECONDS)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(BODY_SECONDS)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        # An app reading the body sees the client gone (``http.disconnect``).
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
