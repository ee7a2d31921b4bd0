"""Endpoint signing secrets at rest: Fernet (cryptography), keys from the environment.

The secret must be recoverable to sign deliveries, so it is encrypted rather than hashed.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


def _fernet() -> MultiFernet:
    keys: list[str] = list(getattr(settings, "WEBHOOKS_ENCRYPTION_KEYS", []) or [])
    if not keys:
        digest = hashlib.sha256(b"ttelgo.webhooks.secret:" + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def secret_generate() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
