"""Second factors (django-allauth's MFA: TOTP and recovery codes).

At rest: the MFA adapter (`MFA_ADAPTER`) encrypts what allauth stores in
`mfa_authenticator.data` (the TOTP secret, the recovery codes' seed, codes carried over)
with Fernet (`ttelgo/crypto.py`, ENCRYPTION_KEYS, else a key derived from SECRET_KEY). A
stored value reads `fernet:<token>`. One without the marker is a plaintext written before
encryption: it is read as it is, and migration `ttelgo.0012` encrypts every such row, so
old and new rows both work while it runs.

At `POST /auth/token`: `token_factor_check` — staff never get customer tokens, and an
account with a second factor gets them only with its code (`otp`)."""

from __future__ import annotations

from typing import Any

from allauth.core import ratelimit
from allauth.mfa.adapter import DefaultMFAAdapter, get_adapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.http import HttpRequest

from ttelgo.crypto import decrypt, encrypt
from ttelgo.errors import DomainError

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


# A token's `amr` claim (RFC 8176) says how its holder logged in: with a second factor it
# holds "otp", and a refresh of an account with a second factor needs it.
AMR_CLAIM = "amr"
FACTOR_RETRY_AFTER_SECONDS = 300
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="api"'}


def token_factor_check(*, request: HttpRequest, user: Any, otp: str) -> bool:
    """May `user`, who gave the right password, have a customer token? Staff and
    superusers never (403 `staff_not_allowed`); an account with a second factor only with
    a right `otp` — a TOTP code or an unused recovery code, each good once (401
    `otp_required`, `otp_invalid`; wrong codes share the portal's limit per account,
    then 429). Returns whether a second factor was given."""
    if user.is_staff or user.is_superuser:
        raise DomainError(
            "staff_not_allowed",
            "Staff accounts do not get customer tokens; operators use the console.",
        )
    if not get_adapter().is_mfa_enabled(user):
        return False
    if not otp:
        raise DomainError(
            "otp_required",
            "This account has two-factor authentication: send the code from its "
            "authenticator app, or a recovery code, as `otp`.",
            headers=_CHALLENGE,
        )
    key = f"mfa-auth-user-{user.pk}"  # allauth's own key: one budget with the portal
    if not ratelimit.consume(request, action="login_failed", key=key):
        raise DomainError(
            "rate_limited",
            "Too many wrong two-factor codes for this account; try again later.",
            details={"retry_after": FACTOR_RETRY_AFTER_SECONDS},
            headers={"Retry-After": str(FACTOR_RETRY_AFTER_SECONDS)},
        )
    factors = Authenticator.objects.filter(user_id=user.pk).exclude(
        type=Authenticator.Type.WEBAUTHN  # no typed code for a security key
    )
    for factor in sorted(factors, key=lambda f: f.type != Authenticator.Type.TOTP):
        if factor.wrap().validate_code(otp):
            ratelimit.clear(request, action="login_failed", key=key)
            factor.record_usage()
            return True
    raise DomainError(
        "otp_invalid",
        "The two-factor code is wrong or was already used.",
        headers=_CHALLENGE,
    )


def token_refresh_factor_check(*, user: Any, claims: Any) -> None:
    """A refresh token is renewed for staff never, and for an account with a second
    factor only if it was issued with one (its `amr` holds "otp")."""
    if user.is_staff or user.is_superuser:
        raise DomainError(
            "staff_not_allowed",
            "Staff accounts do not get customer tokens; operators use the console.",
        )
    if "otp" not in (claims.get(AMR_CLAIM) or []) and get_adapter().is_mfa_enabled(user):
        raise DomainError(
            "otp_required",
            "This account has two-factor authentication: log in again at `POST /auth/token` "
            "with its code as `otp`.",
            headers=_CHALLENGE,
        )
