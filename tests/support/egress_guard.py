"""Egress guard for the test process itself: only loopback sockets may connect.

The server processes the tests start have their own guard
(``tests/support/egress/sitecustomize.py``); this one covers code running inside
pytest (fake upstreams, proxies, clients). A refused connection raises at once
and also fails the test that tried, even if the code under test swallowed it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_original_connect = socket.socket.connect
_original_connect_ex = socket.socket.connect_ex
_original_getaddrinfo = socket.getaddrinfo


def is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False
    return True  # unix sockets


class EgressGuard:
    def __init__(self) -> None:
        self.attempts: list[str] = []

    def refuse(self, what: str) -> None:
        self.attempts.append(what)
        raise ConnectionRefusedError(f"test egress guard: {what} refused (loopback only)")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        guard = self

        def connect(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
                guard.refuse(f"connect {address!r}")
            return _original_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
                guard.refuse(f"connect {address!r}")
            return _original_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            if name not in ("localhost", "None", "", "::1") and not name.startswith("127."):
                try:
                    ipaddress.ip_address(name)
                except ValueError:
                    guard.refuse(f"resolve {name!r}")
            return _original_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def egress_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[EgressGuard]:
    guard = EgressGuard()
    guard.install(monkeypatch)
    yield guard
    assert guard.attempts == [], f"the test process tried to leave loopback: {guard.attempts}"
