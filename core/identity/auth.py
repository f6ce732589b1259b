"""Local accounts for the embedded default: salted scrypt password hashes kept in principals.yaml.

A deployment with an identity provider uses Streamlit's OIDC sign-in instead, and
`Policy.principal_from_claims` maps the claims to a principal.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets

from core.errors import AuthError
from core.policy.engine import Policy, Principal

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
DEMO_MODE_ENV = "RAGLEDGER_DEMO_MODE"


def demo_mode(policy: Policy) -> bool:
    """Whether the demo passwords may be used: policy.yaml's `demo_mode`, unless RAGLEDGER_DEMO_MODE
    (1/true/yes or 0/false/no) overrides it for this process (the test suite and throwaway tours)."""
    forced = os.environ.get(DEMO_MODE_ENV, "").strip().lower()
    if forced in ("1", "true", "yes", "on"):
        return True
    if forced in ("0", "false", "no", "off"):
        return False
    return policy.files.demo_mode


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt)}${b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    actual = hashlib.scrypt(
        password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(actual, base64.b64decode(digest))


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password with the same parameters as real ones, made once per process.

    An unknown name, a passwordless account (ops) and a disabled one are checked against it, so every
    failure costs one scrypt and the answer time does not tell which names exist."""
    return hash_password(secrets.token_urlsafe(16))


def authenticate(policy: Policy, name: str, password: str) -> Principal:
    """Check a local account's password; the same message and the same cost for unknown names,
    accounts without a password, disabled accounts and wrong passwords."""
    entry = policy.principals.principals.get(name)
    stored = entry.password_hash if entry is not None else None
    ok = check_password(password, stored or _dummy_hash())
    if not ok or not stored or entry is None or entry.disabled:
        hint = "demo accounts are listed in the README" if demo_mode(policy) else "check both and try again; repeated failures lock the account for a while"
        raise AuthError("wrong user name or password", hint=hint)
    return policy.principal(name)
