"""C2SP signed notes and checkpoints: byte-compatible with Go's golang.org/x/mod/sumdb/note (its
published PeterNeumann vector), owner-only key files, and signers pluggable through one registry."""
from __future__ import annotations

import base64
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

from core.errors import AuditIntegrityError, ConfigError
from core.audit.signed_note import SIGNERS, FileSigner, Verifier, key_id, make_signer, parse_checkpoint, register, sign_checkpoint, vkey

# golang.org/x/mod/sumdb/note: the example of its package documentation and note_test.go
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_SIG = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="


class SeedSigner:
    """A signer from a raw Ed25519 seed, the shape a KMS plugin takes."""

    def __init__(self, seed: bytes) -> None:
        self.key = Ed25519PrivateKey.from_private_bytes(seed)

    def public_key(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


def _go_signer() -> SeedSigner:
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return SeedSigner(raw[1:])


def test_byte_compatible_with_go_sumdb_note() -> None:
    signer = _go_signer()
    assert vkey("PeterNeumann", signer.public_key()) == GO_VKEY
    assert key_id("PeterNeumann", signer.public_key()).hex() == "c74f20a3"
    blob = base64.b64decode(GO_SIG)
    assert blob[:4].hex() == "c74f20a3" and signer.sign(GO_TEXT) == blob[4:]
    verifier = Verifier.parse(GO_VKEY)
    assert verifier.verify(GO_TEXT, blob[4:]) and not verifier.verify(GO_TEXT + b"x", blob[4:])


def test_checkpoint_round_trip_and_tampering(tmp_path) -> None:  # type: ignore[no-untyped-def]
    signer = FileSigner(tmp_path / "k.pem")
    cp = sign_checkpoint("example.com/log", 7, b"\x11" * 32, "2026-12-01T00:00:00Z", signer)
    assert cp.note.startswith("example.com/log\n7\n" + base64.b64encode(b"\x11" * 32).decode() + "\ntime 2026-12-01T00:00:00Z\n\n\u2014 example.com/log ")
    back = parse_checkpoint(cp.note)
    v = Verifier("example.com/log", signer.public_key())
    assert (back.size, back.root, back.time) == (7, b"\x11" * 32, "2026-12-01T00:00:00Z") and back.signed_by(v)
    assert Verifier.parse(vkey("example.com/log", signer.public_key())) == v
    assert not parse_checkpoint(cp.note.replace("\n7\n", "\n8\n")).signed_by(v)
    assert not parse_checkpoint(cp.note.replace("00:00:00Z", "00:00:01Z")).signed_by(v), "the time line is signed too"
    for bad in ("hello", "a\nb\nnot-base64!\n\n\u2014 x y\n", cp.note.replace("time ", "note ")):
        with pytest.raises(AuditIntegrityError):
            parse_checkpoint(bad)
    with pytest.raises(ConfigError):
        sign_checkpoint("has space", 1, b"\0" * 32, "t", signer)


def test_the_key_file_is_owner_only_and_refused_when_readable(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "keys" / "checkpoint.pem"
    first = FileSigner(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert FileSigner(path).public_key() == first.public_key(), "the same key on every open"
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        FileSigner(path)


def test_signers_are_pluggable_through_the_registry(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert "file" in SIGNERS, "the built-in registers through the same door"
    register("test-kms", lambda home, options: SeedSigner(bytes.fromhex(options["seed"])))
    try:
        signer = make_signer("test-kms", tmp_path, {"seed": "07" * 32})
        cp = sign_checkpoint("kms.example/log", 1, b"\0" * 32, "t", signer)
        assert parse_checkpoint(cp.note).signed_by(Verifier("kms.example/log", signer.public_key()))
    finally:
        SIGNERS.pop("test-kms")
    with pytest.raises(ConfigError, match="no checkpoint signer"):
        make_signer("nope", tmp_path, {})
