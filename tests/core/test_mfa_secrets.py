"""Second factors at rest: TOTP secrets and recovery-code seeds are stored encrypted
(ttelgo/mfa.py), a login with either still works, and the data migration encrypts rows
written before, once (a second run changes nothing), while plaintext rows keep working."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta

import pyotp
import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory, VendorFactory
from ttelgo.mfa import MARKER, mfa_secret_open
from vendors.models import VendorUser

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-portal-passphrase-7"
migration = importlib.import_module("ttelgo.migrations.0012_mfa_secrets_encrypted")


def _member():
    user = UserFactory(email="dev@shop.example")
    user.set_password(PASSWORD)
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    VendorUser.objects.create(vendor=VendorFactory(status="active"), user=user, role="owner")
    return user


def _stored() -> str:
    """Every authenticator's data as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM mfa_authenticator ORDER BY id")
        rows = [row[0] for row in cursor.fetchall()]
    return " ".join(r if isinstance(r, str) else json.dumps(r) for r in rows)


def _logs_in(user, code: str) -> bool:
    client = Client()
    step = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert step.status_code == 302 and reverse("mfa_authenticate") in step["Location"]
    client.post(reverse("mfa_authenticate"), {"code": code})
    return client.get(reverse("portal:overview")).status_code == 200


def test_second_factors_are_stored_encrypted_and_still_log_in():
    user = _member()
    secret = pyotp.random_base32()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    seed = mfa_secret_open(Authenticator.objects.get(type="recovery_codes").data["seed"])
    stored = _stored()
    assert secret not in stored and seed not in stored and stored.count(MARKER) == 2
    assert _logs_in(user, pyotp.TOTP(secret).now())
    assert _logs_in(user, codes[0])  # a recovery code
    assert not _logs_in(user, codes[0])  # used once


def test_the_migration_encrypts_plaintext_rows_once_and_logins_keep_working():
    user = _member()
    secret, seed = pyotp.random_base32(), "ab" * 40
    # As allauth wrote them before the adapter encrypted anything.
    Authenticator.objects.create(user=user, type="totp", data={"secret": secret})
    Authenticator.objects.create(
        user=user, type="recovery_codes", data={"seed": seed, "used_mask": 1}
    )
    codes = RecoveryCodes(Authenticator.objects.get(type="recovery_codes")).generate_codes()
    assert _logs_in(user, pyotp.TOTP(secret).now())  # plaintext rows work during the rollout

    migration.mfa_secrets_encrypt(apps, None)
    encrypted = _stored()
    assert secret not in encrypted and seed not in encrypted
    assert encrypted.count(MARKER) == 2
    assert Authenticator.objects.get(type="recovery_codes").data["used_mask"] == 1
    migration.mfa_secrets_encrypt(apps, None)  # a second run leaves encrypted rows alone
    assert _stored() == encrypted

    with time_machine.travel(timezone.now() + timedelta(seconds=90)):  # a fresh TOTP code
        assert _logs_in(user, pyotp.TOTP(secret).now())
    assert _logs_in(user, codes[1])
    assert not _logs_in(user, codes[0])  # used before the migration: still used

    migration.mfa_secrets_decrypt(apps, None)  # backwards: plaintext again
    assert Authenticator.objects.get(type="totp").data == {"secret": secret}
