"""Connection hygiene at the edge: floods of idle and body-withholding connections, timeouts, 413s."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable

import httpx
import pytest

from tests.hardening.conftest import json_body, raise_fd_limit, raw_request, status_of
from tests.support.client import ChatKitClient, errors, text_input
from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]
FLOOD = 1100


def _connect(port: int) -> socket.socket | None:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=3)
    except OSError:
        return None  # the listen queue is full: the flood already starves the server


def test_a_flood_of_silent_and_body_withholding_connections_starves_nobody(server: ServerProcess) -> None:
    """1,100 connections that send nothing and 1,100 that send headers and hold the body back
    (no credentials needed for either), held open while a health check and a turn are served."""
    if not raise_fd_limit(2 * FLOOD + 1024):
        pytest.skip("this machine's hard open-files limit is below the 3,224 sockets the flood needs")
    held: list[socket.socket] = []
    withheld_head = (
        b"POST /chatkit HTTP/1.1\r\nHost: flood\r\nContent-Type: application/json\r\n"
        b"Content-Length: 4096\r\nX-Dev-User: mallory\r\n\r\n{"
    )
    try:
        for _ in range(FLOOD):
            sock = _connect(server.port)
            if sock is None:
                break
            held.append(sock)
        for _ in range(FLOOD):
            sock = _connect(server.port)
            if sock is None:
                break
            with contextlib.suppress(OSError):
                sock.sendall(withheld_head)
            held.append(sock)
        assert len(held) == 2 * FLOOD, f"only {len(held)} connections got through: accepting stopped"
        time.sleep(0.5)  # let the server accept what it will

        started = time.monotonic()
        health = httpx.get(f"{server.url}/healthz", timeout=2)
        assert health.status_code == 200 and time.monotonic() - started < 2

        started = time.monotonic()
        client = ChatKitClient(server.url)
        client.http.timeout = httpx.Timeout(2)
        _, events = client.create_thread("served during a flood")
        assert errors(events) == [] and time.monotonic() - started < 2
    finally:
        for sock in held:
            sock.close()
    assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200


def test_silent_idle_and_slow_connections_are_closed_on_time(make_server: MakeServer) -> None:
    """The header timer runs from accept (not from the first byte) and bounds idle keep-alive;
    a body that does not arrive in time gets 408 and the connection closes."""
    server = make_server({"server": {"header_timeout_seconds": 1, "body_timeout_seconds": 1}})

    with socket.create_connection(("127.0.0.1", server.port), timeout=6) as silent:
        started = time.monotonic()
        assert silent.recv(10) == b""  # closed by the server, no byte ever sent
        assert time.monotonic() - started < 4

    with socket.create_connection(("127.0.0.1", server.port), timeout=6) as idle:
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert idle.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert idle.recv(10) == b""  # an idle keep-alive connection is closed too
        assert time.monotonic() - started < 4

    started = time.monotonic()
    raw = raw_request(
        server.port,
        b"POST /chatkit HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
        b"X-Dev-User: slow\r\n\r\n",
        b'{"type": ',
        timeout=8,
    )
    assert status_of(raw) == 408, raw[:300]
    assert json_body(raw)["error"]["code"] == "body_timeout"
    assert time.monotonic() - started < 5


def test_an_oversized_body_gets_its_413_before_the_connection_closes(server: ServerProcess) -> None:
    """A 5 MB body over the 4 MiB cap, sent whole by a client that reads only afterwards (as
    most do): it reads the JSON 413, not a reset connection."""
    body = json.dumps({"type": "threads.create", "params": {"input": text_input("x" * 5_000_000)}}).encode()
    head = (
        b"POST /chatkit HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nX-Dev-User: big\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    )
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(head)
            for start in range(0, len(body), 65536):
                sock.sendall(body[start : start + 65536])
            raw = b""
            while chunk := sock.recv(65536):
                raw += chunk
        assert status_of(raw) == 413, raw[:300]
        assert json_body(raw)["error"]["code"] == "body_too_large"
