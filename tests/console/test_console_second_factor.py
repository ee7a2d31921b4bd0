"""Operators pass a second factor (allauth's TOTP) before the console when
CONSOLE_REQUIRE_MFA is on; with it off the console logs staff in with a password only."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.console.factories import OPERATOR_PASSWORD, operator

pytestmark = pytest.mark.django_db

CONSOLE_PAGE = "/admin/orders/order/"


def _staff_client(**kwargs):
    user = operator("admin", **kwargs)
    user.set_password(OPERATOR_PASSWORD)
    user.save()
    client = Client()
    # The console's own login page: a password, nothing else.
    login = client.post(
        reverse("admin:login"),
        {"username": user.email, "password": OPERATOR_PASSWORD, "next": "/admin/"},
    )
    assert login.status_code == 302, login.content[:500]
    return user, client


def _with_totp(user) -> str:
    secret = pyotp.random_base32()
    TOTP.activate(user, secret)
    return secret


def test_setting_off_the_console_opens_with_a_password(settings):
    settings.CONSOLE_REQUIRE_MFA = False
    _, client = _staff_client()
    assert client.get("/admin/").status_code == 200
    assert client.get(CONSOLE_PAGE).status_code == 200


def test_staff_without_an_authenticator_is_sent_to_enrol_and_then_let_in(settings):
    settings.CONSOLE_REQUIRE_MFA = True
    user, client = _staff_client()
    for page in ("/admin/", CONSOLE_PAGE):
        sent = client.get(page)
        assert sent.status_code == 302
        assert sent["Location"].startswith(reverse("mfa_activate_totp"))
    # The console's login and logout stay reachable.
    assert client.get(reverse("admin:login")).status_code in (200, 302)

    # Enrolling is allauth's: the password again, then a code from the new authenticator.
    asked = client.get(reverse("mfa_activate_totp"))
    assert asked.status_code == 302 and reverse("account_reauthenticate") in asked["Location"]
    assert (
        client.post(reverse("account_reauthenticate"), {"password": OPERATOR_PASSWORD}).status_code
        == 302
    )
    secret = client.get(reverse("mfa_activate_totp")).context["form"].secret
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    assert client.get(CONSOLE_PAGE).status_code == 302  # a wrong code enrols nothing
    with pytest.MonkeyPatch.context() as mp:
        # allauth announces the new authenticator after commit; run it now (the test's
        # transaction never commits) so the session records the passed factor.
        from django.db import transaction

        mp.setattr(transaction, "on_commit", lambda fn, *a, **k: fn())
        done = client.post(reverse("mfa_activate_totp"), {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 302
    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
    assert client.get(CONSOLE_PAGE).status_code == 200


def test_staff_with_an_authenticator_needs_its_code(settings):
    settings.CONSOLE_REQUIRE_MFA = True
    user, client = _staff_client()
    secret = _with_totp(user)
    sent = client.get(CONSOLE_PAGE)
    assert sent.status_code == 302
    assert sent["Location"].startswith(reverse("mfa_reauthenticate"))
    assert "next=" in sent["Location"]

    wrong = client.post(sent["Location"], {"code": "123456"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    assert client.get(CONSOLE_PAGE).status_code == 302  # still out

    passed = client.post(sent["Location"], {"code": pyotp.TOTP(secret).now()})
    assert passed.status_code == 302 and passed["Location"] == CONSOLE_PAGE
    assert client.get(CONSOLE_PAGE).status_code == 200
    assert client.get("/admin/").status_code == 200

    # Passing belongs to the session: a new login asks for the code again.
    client.post(reverse("admin:logout"))
    with time_machine.travel(timezone.now() + timedelta(seconds=90)):
        again = Client()
        again.post(
            reverse("admin:login"),
            {"username": user.email, "password": OPERATOR_PASSWORD, "next": "/admin/"},
        )
        assert again.get(CONSOLE_PAGE).status_code == 302


def test_staff_logged_in_through_the_portal_login_with_its_code_is_in(settings):
    """The portal's login (allauth, with its TOTP stage) counts as the second factor."""
    from allauth.account.models import EmailAddress

    settings.CONSOLE_REQUIRE_MFA = True
    user = operator("admin")
    user.set_password(OPERATOR_PASSWORD)
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    secret = _with_totp(user)
    client = Client()
    step = client.post(
        reverse("account_login"), {"login": user.email, "password": OPERATOR_PASSWORD}
    )
    assert step.status_code == 302 and reverse("mfa_authenticate") in step["Location"]
    assert (
        client.post(reverse("mfa_authenticate"), {"code": pyotp.TOTP(secret).now()}).status_code
        == 302
    )
    assert client.get(CONSOLE_PAGE).status_code == 200


def test_non_staff_are_left_to_the_console_login(settings):
    settings.CONSOLE_REQUIRE_MFA = True
    client = Client()
    sent = client.get(CONSOLE_PAGE)
    assert sent.status_code == 302 and reverse("admin:login") in sent["Location"]
