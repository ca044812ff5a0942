"""Logs: JSON lines with a request id on every line of a request; no message content or secrets."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.client import ChatKitClient, text_input
from tests.support.server import ServerProcess

MARKER = "ultra-private-marker-7c1d"


def test_request_ids_and_no_content_in_logs(make_server: Callable[..., ServerProcess]) -> None:
    server = make_server({"logging": {"level": "debug"}, "auth": {"admin_token": "t0k3n-" + "z" * 30}})
    client = ChatKitClient(server.url)
    response = client.http.post(
        "/chatkit",
        json={"type": "threads.create", "params": {"input": text_input(f"{MARKER} please fail")}},
        headers={"X-Request-Id": "req-under-test"},
    )
    assert response.headers["x-request-id"] == "req-under-test"
    client.http.get("/readyz", headers={"X-Request-Id": "../../etc/passwd"})  # rejected, replaced
    assert server.stop() == 0

    log = server.log()
    assert MARKER not in log, "message text must not be logged"
    assert "t0k3n-" not in log, "secrets must not be logged"
    records = server.log_records()
    during = [r for r in records if r.get("request_id") == "req-under-test"]
    assert any(r["event"] == "request" and r["path"] == "/chatkit" for r in during)
    assert any(r.get("level") in ("error", "warning") for r in during), "the failure is logged, with the id"
    access = [r for r in records if r["event"] == "request"]
    assert all(r["request_id"] for r in access)
    assert not any("passwd" in r["request_id"] for r in access)
