"""Second factors at rest: django-allauth's MFA adapter (`MFA_ADAPTER`) encrypts what it
stores in `mfa_authenticator.data` (the TOTP secret, the recovery codes' seed, codes carried
over) with Fernet (`ttelgo/crypto.py`, ENCRYPTION_KEYS, else a key derived from SECRET_KEY).

A stored value reads `fernet:<token>`. One without the marker is a plaintext written before
encryption: it is read as it is, and migration `ttelgo.0012` encrypts every such row, so
old and new rows both work while it runs."""

from __future__ import annotations

from typing import Any

from allauth.mfa.adapter import DefaultMFAAdapter
from django.conf import settings

from ttelgo.crypto import decrypt, encrypt

PURPOSE = "mfa.authenticator"
MARKER = "fernet:"
# What allauth keeps through the adapter's encrypt() in an authenticator's data.
SECRET_FIELDS = ("secret", "seed")
SECRET_LISTS = ("migrated_codes",)


def _keys() -> list[str]:
    return list(getattr(settings, "ENCRYPTION_KEYS", []) or [])


def mfa_secret_seal(text: str) -> str:
    """`text` encrypted, marked; a value already sealed is given back as it is."""
    if text.startswith(MARKER):
        return text
    return MARKER + encrypt(text, purpose=PURPOSE, keys=_keys())


def mfa_secret_open(stored: str) -> str:
    """The plaintext of a sealed value; a value without the marker (written before
    encryption) is the plaintext itself."""
    if not stored.startswith(MARKER):
        return stored
    return decrypt(stored.removeprefix(MARKER), purpose=PURPOSE, keys=_keys())


def authenticator_data_transform(data: dict[str, Any], transform: Any) -> dict[str, Any]:
    """An authenticator's `data` with each secret in it passed through `transform`
    (`mfa_secret_seal` or `mfa_secret_open`); the rest (used_mask, viewed_at) as it is."""
    data = dict(data)
    for name in SECRET_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = transform(data[name])
    for name in SECRET_LISTS:
        if isinstance(data.get(name), list):
            data[name] = [transform(v) if isinstance(v, str) else v for v in data[name]]
    return data


class MfaAdapter(DefaultMFAAdapter):
    """allauth's MFA adapter with its encrypt/decrypt hooks implemented."""

    def encrypt(self, text: str) -> str:
        return mfa_secret_seal(text)

    def decrypt(self, encrypted_text: str) -> str:
        return mfa_secret_open(encrypted_text)
