"""The offline bundle end to end: build it, verify it, catch tampering, install it with
no package index reachable, and serve /readyz from the installed copy.

Slow by nature (one test, about a minute): downloading the wheelhouse needs PyPI (pip's
cache makes re-runs fast); everything after that runs with the index and proxies pointed
at a closed local port, so any network use would fail the install.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from tests.support.server import EGRESS_DIR, free_port

ROOT = Path(__file__).resolve().parents[2]
DEAD = "http://127.0.0.1:9"  # nothing listens on the discard port here


def locked_names() -> set[str]:
    names = set()
    for req in ("lock.txt", "packaging.txt"):
        for line in (ROOT / "requirements" / req).read_text().splitlines():
            if "==" in line and not line.startswith((" ", "#", "-")):
                names.add(line.split("==")[0].split("[")[0].strip().lower().replace("_", "-"))
    return names


def offline_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATKIT_ONPREM_", "PIP_"))}
    env.update(
        PIP_INDEX_URL=DEAD,
        PIP_NO_INDEX="1",
        HTTP_PROXY=DEAD,
        HTTPS_PROXY=DEAD,
        http_proxy=DEAD,
        https_proxy=DEAD,
        NO_PROXY="",
        PYTHON=sys.executable,
    )
    return env


def test_bundle_verifies_installs_offline_and_serves(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bundle.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    bundle = Path(build.stdout.strip().splitlines()[-1])

    # Contents: every locked wheel + ours, the chart, the SBOM, all checksummed.
    wheels = sorted(p.name for p in (bundle / "wheelhouse").glob("*.whl"))
    wheel_names = {w.split("-")[0].lower().replace("_", "-") for w in wheels}
    assert wheel_names == locked_names() | {"chatkit-onprem"}
    assert (bundle / "chart" / "chatkit-onprem-0.1.0.tgz").is_file()
    sums = (bundle / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1] for line in sums}
    present = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {"SHA256SUMS"}
    assert listed == present
    sbom = json.loads((bundle / "sbom" / "python.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert {c["name"].lower().replace("_", "-") for c in sbom["components"]} >= locked_names() - {
        "setuptools",
        "wheel",
        "packaging",
    }

    # Verification refuses a modified file and an unlisted one, and installs nothing then.
    install = bundle / "install.sh"
    env = offline_env()
    assert subprocess.run([str(install), "verify"], capture_output=True, env=env).returncode == 0
    readme = bundle / "README.md"
    original = readme.read_bytes()
    readme.write_bytes(original + b"\n")
    tampered = subprocess.run(
        [str(install), "venv", str(tmp_path / "never")], capture_output=True, text=True, env=env
    )
    assert tampered.returncode != 0 and "NOT installing" in tampered.stderr
    assert not (tmp_path / "never").exists()
    readme.write_bytes(original)
    (bundle / "wheelhouse" / "evil-1.0-py3-none-any.whl").write_bytes(b"x")
    unlisted = subprocess.run([str(install), "verify"], capture_output=True, text=True, env=env)
    assert unlisted.returncode != 0 and "evil-1.0" in unlisted.stderr
    (bundle / "wheelhouse" / "evil-1.0-py3-none-any.whl").unlink()

    # Offline install into a fresh virtualenv.
    venv = tmp_path / "venv"
    installed = subprocess.run(
        [str(install), "venv", str(venv)], capture_output=True, text=True, env=env, timeout=300
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import chatkit_onprem; print(chatkit_onprem.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert where.stdout.strip().startswith(str(venv)), where  # the installed copy, not the source tree

    # Serve from it, behind the test egress guard; readiness, then a clean SIGTERM.
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"data_dir": str(tmp_path / "data"), "server": {"host": "127.0.0.1", "port": port}})
    )
    egress_log = tmp_path / "egress.log"
    serve_env = dict(env, PYTHONPATH=str(EGRESS_DIR), CKO_TEST_EGRESS_LOG=str(egress_log))
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "chatkit-onprem"), "serve", "--config", str(config)],
        cwd=tmp_path,
        env=serve_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        status = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2, trust_env=False).status_code
                if status == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert status == 200, (tmp_path / "server.log").read_text()[-3000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        code = proc.wait(60)
        log.close()
    assert code == 0, (tmp_path / "server.log").read_text()[-3000:]
    assert "shutdown complete" in (tmp_path / "server.log").read_text()
    egress = egress_log.read_text().split() if egress_log.exists() else []
    assert egress == []
