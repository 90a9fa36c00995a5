"""Secrets handling: API keys (random, stored as SHA-256) and passwords (argon2)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

API_KEY_PREFIX = "tw_"
MIN_API_KEY_LENGTH = 24

_hasher = PasswordHasher()


def generate_api_key() -> str:
    """A new API key: ``tw_`` + 40 URL-safe random characters (240 bits)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(30)


def hash_api_key(key: str) -> str:
    """SHA-256 hex of the key. Keys are long random strings, so a fast hash is sufficient."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_display_prefix(key: str) -> str:
    """The first characters of a key, safe to show so a user can tell keys apart."""
    return key[:10]


def validate_api_key_format(key: str) -> str | None:
    """A reason when ``key`` is unfit to be an API key (e.g. an admin key from env), else None."""
    if len(key) < MIN_API_KEY_LENGTH:
        return f"an API key must be at least {MIN_API_KEY_LENGTH} characters"
    if not key.isascii() or any(c.isspace() for c in key):
        return "an API key must be printable ASCII without spaces"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
