"""Secrets at rest: access and refresh tokens are Fernet-encrypted before they reach the database."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, encryption_key: str, secret_key: str) -> None:
        if encryption_key:
            key = encryption_key.encode()
        else:  # development default: derived from the secret key
            key = base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ValueError("PARLONS_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)") from exc

    def encrypt(self, value: str | None) -> str | None:
        return None if value is None else self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return self._fernet.decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with this PARLONS_ENCRYPTION_KEY") from exc
