"""The committed bundle is what scripts/build-web makes from the sources with the pinned esbuild.

The server ships ``chatkit_onprem/web/ui/`` as committed (no npm at run or install time), so a
source edit without a rebuild would silently ship the old component: this rebuilds into a
scratch folder and compares bytes.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.web.support import ROOT

UI = ROOT / "chatkit_onprem" / "web" / "ui"
ESBUILD = ROOT / "build" / "test-deps" / "web-build" / "node_modules" / ".bin" / "esbuild"


def test_the_committed_bundle_is_built_from_the_current_sources(tmp_path: Path) -> None:
    assert ESBUILD.exists(), (
        f"esbuild is missing ({ESBUILD}); run scripts/test-deps web-build (npm ci of the pinned "
        "chatkit_onprem/web/src/package-lock.json)"
    )
    command = [str(ROOT / "scripts" / "build-web"), str(tmp_path)]
    built = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert built.returncode == 0, built.stderr
    fresh = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    committed = {path.name: path.read_bytes() for path in UI.iterdir()}
    assert set(fresh) == {"chatkit.js", "chatkit.js.map", "chatkit.css"}
    assert set(committed) == set(fresh), "chatkit_onprem/web/ui/ holds exactly the build's files"
    stale = sorted(name for name in fresh if fresh[name] != committed[name])
    assert not stale, f"{stale} differ from a fresh build of chatkit_onprem/web/src/: run scripts/build-web"
