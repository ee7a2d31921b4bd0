"""`POST /auth/token` gives customer JWTs for a password alone only to ordinary customers:
never to staff or superusers, and to an account with a second factor only with its code
(`otp`: TOTP or a recovery code, each good once, wrong ones limited per account). A refresh
keeps to the same rule."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import time_machine
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken, UntypedToken

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-enough-passphrase"


def _user(**extra):
    user = UserFactory(**extra)
    user.set_password(PASSWORD)
    user.save()
    return user


def _token(client, user, **extra):
    body = {"email": user.email, "password": PASSWORD, **extra}
    return client.post("/api/v1/auth/token", body, format="json")


def _code(response) -> str:
    return response.json()["error"]["code"]


def test_an_ordinary_customer_logs_in_with_a_password_as_before(api_client):
    answered = _token(api_client, _user())
    assert answered.status_code == 200 and set(answered.json()) == {"access", "refresh"}


def test_staff_and_superusers_get_no_customer_tokens(api_client):
    for extra in ({"is_staff": True}, {"is_staff": True, "is_superuser": True}):
        staff = _user(**extra)
        refused = _token(api_client, staff)
        assert refused.status_code == 403 and _code(refused) == "staff_not_allowed"
        # A wrong password says only that (nothing about the account's kind).
        wrong = api_client.post(
            "/api/v1/auth/token", {"email": staff.email, "password": "wrong"}, format="json"
        )
        assert wrong.status_code == 401 and _code(wrong) == "not_authenticated"
        # Nor a refresh of a token issued before this rule.
        old = RefreshToken.for_user(staff)
        renewed = api_client.post(
            "/api/v1/auth/token/refresh", {"refresh": str(old)}, format="json"
        )
        assert renewed.status_code == 403 and _code(renewed) == "staff_not_allowed"


def test_an_account_with_a_second_factor_needs_its_code(api_client):
    user = _user()
    secret = pyotp.random_base32()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()

    missing = _token(api_client, user)
    assert missing.status_code == 401 and _code(missing) == "otp_required"
    assert missing["WWW-Authenticate"]
    wrong = _token(api_client, user, otp="000000")
    assert wrong.status_code == 401 and _code(wrong) == "otp_invalid"

    code = pyotp.TOTP(secret).now()
    given = _token(api_client, user, otp=code)
    assert given.status_code == 200 and set(given.json()) == {"access", "refresh"}
    assert UntypedToken(given.json()["access"])["amr"] == ["pwd", "otp"]
    replayed = _token(api_client, user, otp=code)
    assert replayed.status_code == 401 and _code(replayed) == "otp_invalid"  # once

    assert _token(api_client, user, otp=codes[0]).status_code == 200  # a recovery code
    assert _code(_token(api_client, user, otp=codes[0])) == "otp_invalid"  # once too

    # A refresh: renewed when issued with the code, not when issued with a password alone.
    renewed = api_client.post(
        "/api/v1/auth/token/refresh", {"refresh": given.json()["refresh"]}, format="json"
    )
    assert renewed.status_code == 200
    assert UntypedToken(renewed.json()["refresh"])["amr"] == ["pwd", "otp"]
    old = RefreshToken.for_user(user)  # as issued before this rule
    refused = api_client.post("/api/v1/auth/token/refresh", {"refresh": str(old)}, format="json")
    assert refused.status_code == 401 and _code(refused) == "otp_required"


def test_wrong_codes_are_limited_per_account(api_client):
    cache.clear()
    user = _user()
    secret = pyotp.random_base32()
    TOTP.activate(user, secret)
    answers = [_code(_token(api_client, user, otp="000000")) for _ in range(6)]
    assert answers == ["otp_invalid"] * 5 + ["rate_limited"]
    # Even the right code waits (the limit is allauth's, shared with the portal).
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        limited = _token(api_client, user, otp=pyotp.TOTP(secret).now())
        assert limited.status_code == 429 and limited["Retry-After"]
