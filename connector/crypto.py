"""Secrets at rest: access and refresh tokens (and every other column or JSON key whose name ends
in `_enc`) are Fernet-encrypted before they reach the database.

`PARLONS_ENCRYPTION_KEY` may list several keys, newest first, separated by commas: the first
encrypts, every one decrypts. To rotate, put a new key in front, run `parlons secrets rotate`
(or let a worker do it), then drop the old key once it reports nothing left to re-encrypt.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBox:
    def __init__(self, encryption_key: str, secret_key: str) -> None:
        if encryption_key.strip():
            keys = [k.strip().encode() for k in encryption_key.split(",") if k.strip()]
        else:  # development default: derived from the secret key
            keys = [base64.urlsafe_b64encode(hashlib.sha256(secret_key.encode()).digest())]
        try:
            fernets = [Fernet(key) for key in keys]
        except ValueError as exc:
            raise ValueError(
                "PARLONS_ENCRYPTION_KEY must be one or more Fernet keys (32 url-safe base64 bytes), "
                "separated by commas, newest first") from exc
        self._primary = fernets[0]
        self._all = MultiFernet(fernets)

    def encrypt(self, value: str | None) -> str | None:
        return None if value is None else self._primary.encrypt(value.encode()).decode()

    def decrypt(self, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return self._all.decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with any PARLONS_ENCRYPTION_KEY") from exc

    def is_current(self, value: str) -> bool:
        """Whether `value` is already encrypted with the first (newest) key."""
        try:
            self._primary.decrypt(value.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, value: str) -> str:
        """`value` encrypted again with the newest key (ValueError when no key opens it)."""
        try:
            return self._all.rotate(value.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with any PARLONS_ENCRYPTION_KEY") from exc
