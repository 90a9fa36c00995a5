"""Encryption at rest for secrets: notification channel URLs, strategies' webhook secrets
(Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from ``TRADEWARDEN_SECRET_KEY`` when set (a Fernet key, or any long random
string, which is hashed into one), else from a key file generated once in the data directory
with mode 0600. Losing the key makes the stored secrets unreadable: back it up with the data.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tradewarden.config import Settings

log = logging.getLogger(__name__)

KEY_FILE_NAME = "secret.key"
#: Every Fernet token starts so: version byte 0x80, then a timestamp's zero high bytes.
TOKEN_PREFIX = "gAAAAA"


class SecretError(Exception):
    """A stored secret cannot be decrypted with the configured key."""


class SecretBox:
    """Encrypts and decrypts short strings with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError, ValueError) as exc:
            raise SecretError("stored secret cannot be decrypted with the configured key "
                              "(TRADEWARDEN_SECRET_KEY or the key file changed?)") from exc


def key_from_secret(secret: str) -> bytes:
    """A Fernet key as given, or one derived (SHA-256) from any other non-empty string."""
    candidate = secret.strip().encode()
    if not candidate:
        raise ValueError("the secret key must not be empty")
    try:
        if len(base64.urlsafe_b64decode(candidate)) == 32:
            return candidate
    except (binascii.Error, ValueError):
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(candidate).digest())


def load_or_create_key_file(path: Path) -> bytes:
    """Read the key file, creating it (0600, atomically: first writer wins) when missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(descriptor, Fernet.generate_key())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        try:
            os.link(temporary, path)  # fails if another process created it meanwhile
            log.info("generated a new secret key file in %s", path.parent)
        except FileExistsError:
            pass
        finally:
            temporary.unlink(missing_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("secret key file %s is readable by others (mode %o); use chmod 600", path,
                    mode)
    return key_from_secret(path.read_text())


def secret_box(secret: str | None, key_file: Path) -> SecretBox:
    """The box for this process: the configured secret wins over the key file."""
    if secret:
        return SecretBox(key_from_secret(secret))
    return SecretBox(load_or_create_key_file(key_file))


def box_for(settings: Settings) -> SecretBox:
    """The box of a process with these settings."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    return secret_box(secret, settings.resolved_secret_key_file)


def looks_like_token(value: str) -> bool:
    """Whether ``value`` is shaped like a Fernet token (made with whatever key)."""
    return value.startswith(TOKEN_PREFIX)
