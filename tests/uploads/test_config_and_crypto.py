"""The encrypted stream format, the upload settings, and the example S3 config against moto."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml

from chatkit_onprem.config import ConfigError, Settings, load_settings
from chatkit_onprem.crypto.legacy_keys import StaticKeyProvider
from chatkit_onprem.crypto.legacy_stream import (
    TAG,
    IntegrityError,
    StreamDecryptor,
    StreamEncryptor,
    binding,
    decrypt_bytes,
    encrypt_bytes,
)
from tests.support.client import ChatKitClient
from tests.uploads.support import ACCESS_KEY, SECRET_KEY, MotoS3, png_bytes, upload_direct

ROOT = Path(__file__).resolve().parents[2]
KEYS = StaticKeyProvider(os.urandom(32), "k-test")
BOUND = binding("acme", "alice", "atc_1", "blob")
CHUNK = 4096


def seal(data: bytes, bound: bytes = BOUND) -> bytes:
    enc = StreamEncryptor(KEYS, bound, chunk_size=CHUNK)
    out = b"".join(enc.update(data[i : i + 1000]) for i in range(0, len(data), 1000))
    return out + enc.finalize()


def header_len() -> int:
    return len(StreamEncryptor(KEYS, BOUND, chunk_size=CHUNK).header)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 17])
def test_round_trip_in_odd_pieces(size: int) -> None:
    data = os.urandom(size)
    sealed = seal(data)
    dec = StreamDecryptor(KEYS, BOUND)
    out = b"".join(dec.update(sealed[i : i + 777]) for i in range(0, len(sealed), 777)) + dec.finalize()
    assert out == data and dec.key_id == "k-test"


def test_tampering_truncation_reordering_and_misbinding_fail() -> None:
    data = os.urandom(5 * CHUNK + 100)
    sealed = seal(data)
    h, block = header_len(), CHUNK + TAG
    chunks = [sealed[h + i * block : h + (i + 1) * block] for i in range(6)]
    cases = {
        "bit flip": sealed[:-5] + bytes([sealed[-5] ^ 1]) + sealed[-4:],
        "header flip (chunk size)": sealed[: h - 40] + bytes([sealed[h - 40] ^ 1]) + sealed[h - 39 :],
        "cut at a chunk boundary": sealed[: h + 3 * block],
        "cut mid chunk": sealed[: h + 3 * block + 10],
        "last chunk dropped": sealed[:h] + b"".join(chunks[:5]),
        "chunks swapped": sealed[:h] + chunks[1] + chunks[0] + b"".join(chunks[2:]),
        "header only": sealed[:h],
        "empty": b"",
    }
    for name, body in cases.items():
        with pytest.raises(IntegrityError):
            decrypt_bytes(KEYS, BOUND, body)
            pytest.fail(name)
    for other in (
        binding("acme", "bob", "atc_1", "blob"),
        binding("acme", "alice", "atc_2", "blob"),
        binding("acme", "alice", "atc_1", "preview"),
    ):
        with pytest.raises(IntegrityError):
            decrypt_bytes(KEYS, other, sealed)


def test_unknown_key_id_and_old_keys() -> None:
    sealed = encrypt_bytes(KEYS, BOUND, b"secret")
    with pytest.raises(IntegrityError, match="unknown key"):
        decrypt_bytes(StaticKeyProvider(os.urandom(32), "k-other"), BOUND, sealed)
    rotated = StaticKeyProvider(os.urandom(32), "k-new", older={"k-test": KEYS.get("k-test")})
    assert decrypt_bytes(rotated, BOUND, sealed) == b"secret"
    assert encrypt_bytes(rotated, BOUND, b"x")[6:11] == b"k-new"
    # A key first used unnamed (derived id) keeps reading after it is given a name.
    raw = os.urandom(32)
    unnamed = encrypt_bytes(StaticKeyProvider(raw), BOUND, b"before")
    assert decrypt_bytes(StaticKeyProvider(raw, "named-later"), BOUND, unnamed) == b"before"


def test_production_requires_an_encryption_key_and_tls() -> None:
    base = {"mode": "production", "blobs": {"backend": "s3", "s3": {"endpoint": "http://s3.internal:9000"}}}
    problems = "\n".join(Settings(**base).production_problems())
    assert "blobs.encryption.key" in problems and "blobs.s3.secure" in problems
    key = base64.b64encode(os.urandom(32)).decode()
    good = Settings(
        **{
            **base,
            "blobs": {"backend": "s3", "s3": {"endpoint": "https://s3.internal"}, "encryption": {"key": key}},
        }
    )
    assert not [p for p in good.production_problems() if p.startswith("blobs.")]
    with pytest.raises(ValueError, match="endpoint is required"):
        Settings(blobs={"backend": "s3"})


def test_secrets_from_files(tmp_path: Path) -> None:
    (tmp_path / "ak").write_text("AKIA-from-file\n")
    (tmp_path / "sk").write_text("secret-from-file\n")
    settings = Settings(
        blobs={
            "backend": "s3",
            "s3": {
                "endpoint": "s3:9000",
                "access_key_file": str(tmp_path / "ak"),
                "secret_key_file": str(tmp_path / "sk"),
            },
        }
    )
    assert settings.blobs.s3.access_key is not None and settings.blobs.s3.secret_key is not None
    assert settings.blobs.s3.secret_key.get_secret_value() == "secret-from-file"
    assert "secret-from-file" not in settings.model_dump_json()


def test_example_s3_config_runs_against_moto(
    make_server, moto: MotoS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "S3_ENDPOINT": f"http://{moto.endpoint}",
        "S3_ACCESS_KEY": ACCESS_KEY,
        "S3_SECRET_KEY": SECRET_KEY,
        "S3_BUCKET": "example-bucket",
    }
    example = ROOT / "config" / "examples" / "s3.yaml"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(example)
    assert settings.blobs.backend == "s3" and settings.blobs.s3.endpoint == moto.endpoint
    assert settings.blobs.s3.secure is False and settings.blobs.s3.bucket == "example-bucket"
    monkeypatch.delenv("S3_BUCKET")
    with pytest.raises(ConfigError, match="S3_BUCKET"):
        load_settings(example)

    raw = yaml.safe_load(example.read_text())
    raw.pop("data_dir")  # the test harness puts data in the test's folder
    server = make_server(raw, env=env)  # ${...} resolved by the server from its environment
    alice = ChatKitClient(server.url)
    image = upload_direct(alice, "e.png", png_bytes(), "image/png")
    assert image.status_code == 200, image.text
    assert moto.client().bucket_exists("example-bucket")
    assert alice.http.get(f"/files/{image.json()['id']}").content == png_bytes()


def test_preview_links_expire_and_bind_their_owner() -> None:
    from chatkit_onprem.chat.previews import PreviewSigner

    signer = PreviewSigner(os.urandom(32), 3600)
    url = httpx_params(signer.url("http://h", "acme", "alice", "atc_1"))
    assert signer.verify("acme", "alice", "atc_1", int(url["exp"]), url["sig"]) is None
    assert signer.verify("acme", "bob", "atc_1", int(url["exp"]), url["sig"]) == "invalid"
    past = httpx_params(signer.url("http://h", "acme", "alice", "atc_1", now=0))
    assert signer.verify("acme", "alice", "atc_1", int(past["exp"]), past["sig"]) == "expired"


def httpx_params(url: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(url).query))
