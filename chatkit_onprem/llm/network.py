"""An asyncio-native network backend for httpcore2 (the upstream connections).

httpcore2's default backend goes through anyio, and on asyncio that costs two
things on every upstream read (profiles in docs/performance.md):

* each ``receive`` resumes and then pauses reading on the transport, which
  registers and unregisters the socket with epoll: two system calls per token;
* the pool asks every idle connection "is it readable?" before each request,
  and anyio answers by building its whole attribute map (a ``getpeername``
  call) and polling the socket: many system calls per request once dozens of
  connections are pooled.

Each of those system calls releases the GIL, and on a busy worker getting it
back waits for the DuckDB writer or Granian's threads. Here a protocol keeps
what arrives in a buffer (reading is paused only when it holds more than
``READ_LIMIT``), reads are served from that buffer, and "readable" is a field
lookup: data or end-of-stream arrived while the connection sat idle.
TLS (direct, or inside a proxy's CONNECT tunnel) uses ``loop.start_tls``.
``llm.transport`` hands this backend to httpcore2's pool constructors.

A read timer that fires late because the loop was busy never fails a read whose
data had arrived: in one loop iteration asyncio runs the I/O callbacks (data
received) before the timers that came due, so a slow loop cannot make a healthy
upstream look silent.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore2
from httpcore2 import AsyncNetworkBackend, AsyncNetworkStream

#: Bytes buffered before the transport stops reading (and the peer is slowed down).
READ_LIMIT = 256 * 1024

SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]


class _Protocol(asyncio.Protocol):
    __slots__ = ("buffer", "eof", "error", "loop", "reading_paused", "transport", "waiter", "writable")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.eof = False
        self.error: BaseException | None = None
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.reading_paused = False
        self.writable: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > READ_LIMIT and not self.reading_paused and self.transport is not None:
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.error = exc
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        if self.writable is None or self.writable.done():
            self.writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


def _expire(future: asyncio.Future[None], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)


class AsyncioStream(AsyncNetworkStream):
    def __init__(self, protocol: _Protocol) -> None:
        self._protocol = protocol

    @property
    def _transport(self) -> asyncio.Transport:
        transport = self._protocol.transport
        if transport is None:  # pragma: no cover - set in connection_made
            raise httpcore2.ReadError("connection is not open")
        return transport

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        protocol = self._protocol
        if not protocol.buffer and not protocol.eof:
            waiter = protocol.loop.create_future()
            protocol.waiter = waiter
            timer = (
                protocol.loop.call_later(timeout, _expire, waiter, httpcore2.ReadTimeout("read timed out"))
                if timeout is not None
                else None
            )
            try:
                await waiter
            finally:
                protocol.waiter = None
                if timer is not None:
                    timer.cancel()
        if not protocol.buffer:
            if protocol.error is not None:
                raise httpcore2.ReadError(str(protocol.error) or type(protocol.error).__name__)
            return b""  # end of stream: httpcore reads this as "server disconnected"
        data = bytes(protocol.buffer[:max_bytes])
        del protocol.buffer[:max_bytes]
        if protocol.reading_paused and len(protocol.buffer) <= READ_LIMIT // 2:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        protocol = self._protocol
        transport = self._transport
        if protocol.error is not None or transport.is_closing():
            raise httpcore2.WriteError("connection is closed")
        transport.write(buffer)
        writable = protocol.writable
        if writable is not None and not writable.done():
            try:
                await asyncio.wait_for(asyncio.shield(writable), timeout)
            except TimeoutError:
                raise httpcore2.WriteTimeout("write timed out") from None
            if protocol.error is not None:
                raise httpcore2.WriteError(str(protocol.error))

    async def aclose(self) -> None:
        transport = self._protocol.transport
        if transport is not None and not transport.is_closing():
            transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> AsyncNetworkStream:
        protocol = self._protocol
        try:
            transport = await asyncio.wait_for(
                protocol.loop.start_tls(
                    self._transport, protocol, ssl_context, server_hostname=server_hostname
                ),
                timeout,
            )
        except TimeoutError:
            await self.aclose()
            raise httpcore2.ConnectTimeout("TLS handshake timed out") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            await self.aclose()
            raise httpcore2.ConnectError(str(exc) or type(exc).__name__) from exc
        if transport is None:  # pragma: no cover - only for a closed transport
            raise httpcore2.ConnectError("connection closed during the TLS handshake")
        protocol.transport = transport  # type: ignore[assignment]
        return AsyncioStream(protocol)

    def get_extra_info(self, info: str) -> Any:
        protocol = self._protocol
        transport = protocol.transport
        if info == "is_readable":
            # Asked of idle connections only: anything that arrived (data, EOF, reset)
            # means the server closed it or broke the protocol.
            return bool(protocol.buffer) or protocol.eof
        if transport is None:
            return None
        if info == "ssl_object":
            return transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return transport.get_extra_info("sockname")
        if info == "server_addr":
            return transport.get_extra_info("peername")
        if info == "socket":
            return transport.get_extra_info("socket")
        return None


class AsyncioBackend(AsyncNetworkBackend):
    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            _, protocol = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Protocol(loop),
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                ),
                timeout,
            )
        except TimeoutError:
            raise httpcore2.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as exc:
            raise httpcore2.ConnectError(str(exc) or type(exc).__name__) from exc
        stream = AsyncioStream(protocol)
        raw: socket.socket | None = stream.get_extra_info("socket")
        for option in socket_options or ():
            if raw is not None:
                raw.setsockopt(*option)  # type: ignore[arg-type]
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> AsyncNetworkStream:
        raise httpcore2.ConnectError("unix sockets are not used for model upstreams")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
