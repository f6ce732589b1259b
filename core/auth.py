"""Local accounts for the embedded default: salted scrypt password hashes kept in principals.yaml.

A deployment with an identity provider uses Streamlit's OIDC sign-in instead, and
`Policy.principal_from_claims` maps the claims to a principal.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from core.errors import AuthError
from core.policy import Policy, Principal

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


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


def authenticate(policy: Policy, name: str, password: str) -> Principal:
    """Check a local account's password; the same message for unknown names and wrong passwords."""
    stored = policy.password_hash(name)
    if not stored or not check_password(password, stored):
        raise AuthError("wrong user name or password", hint="demo accounts are listed in the README")
    return policy.principal(name)
