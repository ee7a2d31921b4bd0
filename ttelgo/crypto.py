"""Secrets at rest that must be shown or used again: Fernet (cryptography), with keys from
the environment (a list, newest first, so keys can be rotated), or, where none are set,
one derived from SECRET_KEY and the secret's purpose.

`EncryptedCharField` stores a model field encrypted and gives it back in plaintext."""

from __future__ import annotations

import base64
import copy
import hashlib
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


def fernet(purpose: str, keys: list[str] | None = None) -> MultiFernet:
    if not keys:
        digest = hashlib.sha256(f"{purpose}:".encode() + settings.SECRET_KEY.encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(text: str, *, purpose: str, keys: list[str] | None = None) -> str:
    return fernet(purpose, keys).encrypt(text.encode()).decode()


def decrypt(token: str, *, purpose: str, keys: list[str] | None = None) -> str:
    return fernet(purpose, keys).decrypt(token.encode()).decode()


class EncryptedCharField(models.CharField):  # type: ignore[type-arg]
    """A CharField kept encrypted in the database (ENCRYPTION_KEYS, else derived from
    SECRET_KEY for `purpose`). Not searchable: the stored value changes at every write."""

    def __init__(self, *args: Any, purpose: str = "ttelgo.field", **kwargs: Any) -> None:
        self.purpose = purpose
        kwargs.setdefault("max_length", 512)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def _keys(self) -> list[str]:
        return list(getattr(settings, "ENCRYPTION_KEYS", []) or [])

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if not value:
            return value
        return decrypt(value, purpose=self.purpose, keys=self._keys())

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value, purpose=self.purpose, keys=self._keys())


def body_sealer(*path: str, purpose: str) -> tuple[Any, Any]:
    """(seal, unseal) for `ttelgo.idempotency.idempotent`: encrypt the value at `path` in a
    stored answer (a PaymentIntent's client secret) and decrypt it for the replay."""

    def at_path(transform: Any) -> Any:
        def apply(body: Any) -> Any:
            body = copy.deepcopy(body)
            node = body
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict) and node.get(path[-1]):
                node[path[-1]] = transform(node[path[-1]], purpose=purpose)
            return body

        return apply

    return at_path(encrypt), at_path(decrypt)
