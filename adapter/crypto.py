"""Encryption at rest for stored credentials (Fernet: AES-128-CBC with HMAC-SHA256).

Which key, and the check that every process has the same one, is `adapter.store.keys`.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from adapter.errors import InputError


class SecretBox:
    """Seals and opens small JSON secrets (tokens) with the installation key."""

    def __init__(self, key: bytes):
        self._fernet = Fernet(key)
        self._key = key

    @property
    def key(self) -> bytes:
        """The key itself (to seal again with a new one when it is rotated)."""
        return self._key

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
