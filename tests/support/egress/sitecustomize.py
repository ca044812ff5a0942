"""Egress guard for server processes started by the tests.

Loaded by Python at start-up because the tests put this folder on PYTHONPATH.
When CKO_TEST_EGRESS_LOG is set, every outbound connection to a
non-loopback address is refused and written to that file; the test that
started the server fails if the file is not empty.
"""

import ipaddress
import os
import socket

_log = os.environ.get("CKO_TEST_EGRESS_LOG")


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return False
    return True  # unix sockets and the like


if _log:
    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex
    _getaddrinfo = socket.getaddrinfo

    def _refuse(what: str) -> None:
        with open(_log, "a", encoding="utf-8") as out:
            out.write(what + "\n")
        raise ConnectionRefusedError(f"egress guard: {what} refused (tests allow loopback only)")

    def connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            _refuse(f"connect {address!r}")
        return _connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> int:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            _refuse(f"connect {address!r}")
        return _connect_ex(self, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("localhost", "None") and not name.startswith("127.") and name not in ("::1", ""):
            try:
                ipaddress.ip_address(name)
            except ValueError:
                _refuse(f"resolve {name!r}")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]

# Fault injection for tests that need an internal error (which no correct request can cause):
# CKO_TEST_FAULTS names a module to import at start-up; it plants the fault.
_faults = os.environ.get("CKO_TEST_FAULTS")
if _faults:
    import importlib

    importlib.import_module(_faults)
