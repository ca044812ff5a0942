"""Attachments as model input, speech transcription, and `config check --probe`."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.llm.conftest import llm_config
from tests.llm.fakes import FakeUpstream, ForwardProxy, Status
from tests.support.client import ChatKitClient, errors, text_input
from tests.support.server import ROOT, ServerProcess, free_port

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def upload(client: ChatKitClient, name: str, data: bytes, mime: str) -> str:
    response = client.http.post("/files", files={"file": (name, data, mime)})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def test_images_text_and_other_files_reach_the_model(
    upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    server = make_server(
        llm_config(
            {"local": {"base_url": upstream.url}},
            {"default": {"upstream": "local", "model": "vision"}},
            input={"max_inline_text_bytes": 32},
        )
    )
    client = ChatKitClient(server.url)
    image = upload(client, "dot.png", PNG, "image/png")
    notes = upload(
        client, "notes.txt", b"pump P-7 needs a new seal; then a long tail that is cut", "text/plain"
    )
    archive = upload(client, "report.pdf", b"%PDF-1.4\n" + b"%" * 91 + b"\n%%EOF\n", "application/pdf")
    events = client.stream(
        "threads.create", {"input": text_input("what is in these?", [image, notes, archive])}
    )
    assert errors(events) == []
    [message] = [m for m in upstream.model_requests()[-1].body["messages"] if m["role"] == "user"]
    parts = message["content"]
    assert parts[0] == {"type": "text", "text": "what is in these?"}
    assert parts[1]["type"] == "image_url"
    assert parts[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert parts[2]["type"] == "text" and "pump P-7 needs a new seal; then " in parts[2]["text"]
    assert "(cut: the file is longer)" in parts[2]["text"] and "long tail" not in parts[2]["text"]
    assert parts[3]["type"] == "text" and "report.pdf (application/pdf, 107 bytes)" in parts[3]["text"]
    # Another user cannot smuggle alice's attachment into their own turn.
    response = ChatKitClient(server.url, user="mallory").post(
        "threads.create", {"input": text_input("steal", [notes])}
    )
    assert "pump" not in response.text and len(upstream.model_requests()) == 1


def test_transcription_through_the_upstream_and_a_clear_error_without_one(
    upstream: FakeUpstream, make_server: Callable[..., ServerProcess]
) -> None:
    audio = {"audio_base64": base64.b64encode(b"RIFF....WAVEfmt ").decode(), "mime_type": "audio/wav"}
    configured = make_server(
        llm_config(
            {"local": {"base_url": upstream.url}},
            {"default": {"upstream": "local", "model": "m"}},
            transcription={"upstream": "local", "model": "whisper-large"},
        )
    )
    client = ChatKitClient(configured.url)
    upstream.transcript = "hello from the microphone"
    assert client.call("input.transcribe", audio) == {"text": "hello from the microphone"}
    [request] = [r for r in upstream.requests if r.path.endswith("/audio/transcriptions")]
    assert b"whisper-large" in request.body and b"RIFF....WAVEfmt " in request.body

    plain_server = make_server({}, name="plain")
    assert "no model upstream configured: using the built-in scripted model" in plain_server.log()
    plain = ChatKitClient(plain_server.url)
    response = plain.post("input.transcribe", audio)
    assert response.status_code == 501
    assert "transcription is not configured" in response.json()["error"]["message"]


def _config_check(tmp_path: Path, config: dict, *extra: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "probe.yaml"
    path.write_text(yaml.safe_dump({"data_dir": str(tmp_path / "data"), **config}))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_PROXY": "*"}
    return subprocess.run(
        [sys.executable, "-m", "chatkit_onprem", "config", "check", "--config", str(path), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )


def test_config_check_probe_reports_per_alias(
    upstream: FakeUpstream, make_proxy: Callable[..., ForwardProxy], tmp_path: Path
) -> None:
    proxy = make_proxy()
    dead = f"http://127.0.0.1:{free_port()}/v1"
    config = llm_config(
        {
            "good": {"base_url": upstream.url, "proxy": {"url": proxy.url}, "api_key": "sk-probe-secret-123"},
            "down": {"base_url": dead},
        },
        {
            "default": {"upstream": "good", "model": "m"},
            "broken": {"upstream": "good", "model": "m2"},
            "offline": {"upstream": "down", "model": "m"},
        },
    )
    upstream.plan.append(Status(404, message="model m2 not found"))  # the probes run concurrently
    result = _config_check(tmp_path, config, "--probe")
    assert result.returncode == 1, result.stderr
    lines = {
        line.split(":")[0].split()[-1]: line
        for line in result.stderr.splitlines()
        if line[:4] in ("ok  ", "FAIL")
    }
    assert set(lines) == {"default", "broken", "offline"}, result.stderr
    assert lines["offline"].startswith("FAIL") and "cannot connect" in lines["offline"]
    assert sum(line.startswith("ok") for line in lines.values()) == 1
    assert all(line.startswith("POST http://127.0.0.1") for line in proxy.seen) and len(proxy.seen) == 2
    assert "sk-probe-secret-123" not in result.stdout + result.stderr
    assert yaml.safe_load(result.stdout)["llm"]["upstreams"]["good"]["api_key"] == "**********"


def test_llm_config_errors_name_the_key(tmp_path: Path) -> None:
    result = _config_check(
        tmp_path,
        {
            "llm": {
                "upstreams": {"u": {"base_url": "ftp://x", "api_style": "soap"}},
                "aliases": {
                    "default": {
                        "upstream": "nope",
                        "model": "m",
                        "fallbacks": ["ghost"],
                        "settings": {"temprature": 1},
                    }
                },
            }
        },
    )
    assert result.returncode == 2
    for expected in ("llm.upstreams.u.base_url", "llm.upstreams.u.api_style", "temprature"):
        assert expected in result.stderr, result.stderr
    result = _config_check(
        tmp_path,
        {
            "llm": {
                "upstreams": {"u": {"base_url": "http://127.0.0.1:1/v1"}},
                "aliases": {"default": {"upstream": "nope", "model": "m", "fallbacks": ["ghost"]}},
                "tenant_aliases": {"acme": ["fast"]},
            }
        },
    )
    assert result.returncode == 2
    for expected in ("no upstream named 'nope'", "no alias named 'ghost'", "tenant_aliases.acme"):
        assert expected in result.stderr, result.stderr
    prod = _config_check(
        tmp_path,
        {
            "mode": "production",
            "llm": {
                "upstreams": {"u": {"base_url": "http://vllm.internal:8000/v1", "api_key": "k"}},
                "aliases": {"default": {"upstream": "u", "model": "m"}},
            },
        },
    )
    assert prod.returncode == 2 and "llm.upstreams.u.base_url: an API key is configured" in prod.stderr
    assert json.dumps(prod.stderr).count("sk-") == 0
