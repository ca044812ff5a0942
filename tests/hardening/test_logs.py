"""An internal error's log entry holds neither the caller's credential nor what they sent."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support.server import ServerProcess

MakeServer = Callable[..., ServerProcess]
ADMIN = "admin-token-for-the-log-test-" + "q" * 20
PLANTED = "planted-body-text-4b1e"


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_an_internal_error_logs_no_credential_and_no_content(make_server: MakeServer, fmt: str) -> None:
    server = make_server(
        {
            "logging": {"format": fmt, "level": "debug"},
            "auth": {"methods": ["api_keys"], "admin_token": ADMIN},
        },
        env={"CKO_TEST_FAULTS": "tests.hardening.faults"},
    )
    made = httpx.post(
        f"{server.url}/admin/v1/api-keys",
        json={"tenant": "acme", "name": "logs"},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    key = made.json()["token"]
    response = httpx.post(
        f"{server.url}/chatkit",
        json={"type": "threads.list", "params": {"limit": 5}, "note": PLANTED},
        headers={"Authorization": f"Bearer {key}", "Cookie": f"session={PLANTED}"},
        timeout=10,
    )
    assert response.status_code == 500  # the planted fault
    assert response.json()["error"]["code"] == "internal_error"
    assert server.stop() == 0
    log = server.log()
    assert "planted fault for the log-hygiene test" in log, "the error and its traceback are logged"
    assert key[-43:] not in log, "the API key's secret reached the log"
    assert ADMIN not in log
    assert PLANTED not in log, "the request body or cookie reached the log"
    assert "locals" not in log.lower(), "tracebacks must not render local variables"
