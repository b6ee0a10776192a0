"""Encryption at rest for stored credentials (Fernet: AES-128-CBC with HMAC-SHA256).

The key comes from `KRAVFLYT_SECRET_KEY`. A small installation without it gets a key
generated once into `KRAVFLYT_KEY_FILE` (mode 0600); losing that file makes the stored
credentials unreadable, and `kravflyt company connect` must be run again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from adapter.errors import InputError
from adapter.settings import AppSettings


def load_key(settings: AppSettings) -> bytes:
    """The installation's key: from the environment, else from (or into) the key file."""
    if settings.secret_key is not None:
        key = settings.secret_key.get_secret_value().encode()
    else:
        path = Path(settings.key_file)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        key = path.read_bytes().strip()
    try:
        Fernet(key)
    except ValueError as exc:
        raise InputError("KRAVFLYT_SECRET_KEY", "must be 32 url-safe base64-encoded bytes") from exc
    return key


class SecretBox:
    """Seals and opens small JSON secrets (tokens) with the installation key."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)
        self._key = key

    def derive(self, purpose: str) -> str:
        """A secret for another use (e.g. signing session cookies), derived from the key."""
        return hmac.new(self._key, purpose.encode(), hashlib.sha256).hexdigest()

    def seal(self, secret: dict[str, Any]) -> bytes:
        """Encrypt a dict of secrets."""
        return self._fernet.encrypt(json.dumps(secret).encode())

    def open(self, sealed: bytes) -> dict[str, Any]:
        """Decrypt what `seal` made; a wrong key is a clear error, not garbage."""
        try:
            return dict(json.loads(self._fernet.decrypt(sealed)))
        except InvalidToken as exc:
            raise InputError(
                "KRAVFLYT_SECRET_KEY", "stored credentials cannot be decrypted with this key"
            ) from exc
