"""Endpoint signing secrets at rest: Fernet (cryptography), keys from the environment.

The secret must be recoverable to sign deliveries, so it is encrypted rather than hashed.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import MultiFernet
from django.conf import settings

from ttelgo.crypto import fernet


def _fernet() -> MultiFernet:
    return fernet("ttelgo.webhooks.secret", list(settings.WEBHOOKS_ENCRYPTION_KEYS or []))


def secret_generate() -> str:
    """A Standard Webhooks secret: `whsec_` + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
