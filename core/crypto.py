"""Encryption of stored credentials (bot tokens, access tokens, app secrets), and signatures.

The Fernet key is derived from ``FUNNELBOX_SECRET_KEY`` with HKDF, so the one secret an
operator keeps also unlocks every stored credential, and rotating it is explicit.
"""

import base64
import hashlib
import hmac
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ValidationFailed


class Vault:
    """Seals and opens JSON credentials with a key derived from the secret key."""

    def __init__(self, secret_key: str | None) -> None:
        if not secret_key or len(secret_key) < 16:
            raise ValidationFailed(
                "FUNNELBOX_SECRET_KEY must be set (16+ characters) to store credentials",
                field="FUNNELBOX_SECRET_KEY",
            )
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"funnelbox credentials v1"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))
        self._mac_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"funnelbox signatures v1"
        ).derive(secret_key.encode())
        # Webhooks open a channel's credentials on every delivery: decrypt each sealed
        # value once (a changed credential is a different sealed string).
        self._decrypt = lru_cache(maxsize=256)(self._decrypt_text)

    def _decrypt_text(self, sealed: str) -> bytes:
        return self._fernet.decrypt(sealed.encode())

    def mac(self, message: str) -> str:
        """A short URL-safe signature of ``message`` (for links we hand out and read back);
        compare it with :func:`hmac.compare_digest`."""
        digest = hmac.new(self._mac_key, message.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def seal(self, credentials: dict[str, Any]) -> str:
        """Encrypt a credentials mapping for storage."""
        return self._fernet.encrypt(json.dumps(credentials).encode()).decode()

    def open(self, sealed: str) -> dict[str, Any]:
        """Decrypt stored credentials; a changed secret key is a clear error, not garbage."""
        try:
            credentials: dict[str, Any] = json.loads(self._decrypt(sealed))
            return credentials
        except InvalidToken:
            raise ValidationFailed(
                "stored credentials cannot be decrypted: FUNNELBOX_SECRET_KEY changed?",
                field="credentials",
            ) from None
