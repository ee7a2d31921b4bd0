"""Refresh tokens at rest: simplejwt keeps every issued refresh token (OutstandingToken)
to blacklist it on rotation, and stored the whole JWT, a 14-day credential. Nothing reads
it back (blacklisting goes by `jti`), so only its SHA-256 is kept: a database dump no
longer holds working sessions."""

from __future__ import annotations

import hashlib
from typing import Any


def token_digest(token: str) -> str:
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


def outstanding_token_hash(sender: Any, instance: Any, **kwargs: Any) -> None:
    """pre_save of OutstandingToken: whatever simplejwt writes, store the digest."""
    if instance.token and not instance.token.startswith("sha256:"):
        instance.token = token_digest(instance.token)
