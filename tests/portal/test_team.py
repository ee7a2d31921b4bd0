"""A vendor's team in the portal: invitations by email with a role, accepted through the
link (with a new account or the invited address's own), role changes and removals, each
audited and emailed to the owner; only owners and admins manage the team."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import UserFactory, VendorFactory
from ttelgo.models import AuditLog
from vendors.models import VendorUser

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-team-passphrase-9"


def _member(role, vendor=None):
    vendor = vendor or VendorFactory(status="active", contact_email="owner@roam.example")
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role=role)
    client = Client()
    client.force_login(member.user)
    return client, member


def _invite(client, email, role, capture):
    with capture(execute=True):
        return client.post(reverse("portal:team"), {"email": email, "role": role})


def _link(email):
    message = next(m for m in reversed(mail.outbox) if email in m.to)
    return re.search(r"https?://\S+/portal/invitations/\S+", message.body)[0].split("://", 1)[1]


def test_an_invitee_joins_with_a_new_account_and_the_owner_is_told(
    django_capture_on_commit_callbacks,
):
    owner_client, owner = _member("owner")
    answer = _invite(
        owner_client, "Dev@Roam.example", "developer", django_capture_on_commit_callbacks
    )
    assert answer.status_code == 302
    path = "/" + _link("dev@roam.example").split("/", 1)[1]
    invitee = Client()
    page = invitee.get(path)
    assert page.status_code == 200 and "developer" in page.content.decode().lower()
    short = invitee.post(path, {"password1": "short", "password2": "short"})
    assert short.status_code == 400 and "too short" in short.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        joined = invitee.post(path, {"password1": PASSWORD, "password2": PASSWORD})
    assert joined["Location"] == reverse("portal:overview")
    member = VendorUser.objects.get(user__email="dev@roam.example")
    assert member.vendor == owner.vendor and member.role == "developer"
    assert invitee.get(reverse("portal:overview")).status_code == 200
    assert any("joined your team" in m.subject for m in mail.outbox if "owner@roam.example" in m.to)
    assert AuditLog.objects.filter(action="vendor.member_add").exists()
    assert invitee.get(path).status_code == 404  # used once


def test_an_invitation_expires_and_needs_the_invited_address(django_capture_on_commit_callbacks):
    owner_client, _owner = _member("owner")
    _invite(owner_client, "fin@roam.example", "finance", django_capture_on_commit_callbacks)
    path = "/" + _link("fin@roam.example").split("/", 1)[1]
    someone = UserFactory(email="other@roam.example")
    other = Client()
    other.force_login(someone)
    refused = other.post(path, follow=True)
    assert "log in with that address" in refused.content.decode()
    assert not VendorUser.objects.filter(user=someone).exists()
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert Client().get(path).status_code == 404


def test_only_owners_and_admins_manage_the_team_and_the_last_owner_stays(
    django_capture_on_commit_callbacks,
):
    owner_client, owner = _member("owner")
    admin_client, admin = _member("admin", owner.vendor)
    dev_client, dev = _member("developer", owner.vendor)
    assert (
        dev_client.post(
            reverse("portal:team"), {"email": "x@roam.example", "role": "viewer"}
        ).status_code
        == 400
    )
    made_owner = admin_client.post(
        reverse("portal:team"), {"email": "y@roam.example", "role": "owner"}
    )
    assert made_owner.status_code == 400 and "Only an owner" in made_owner.content.decode()
    assert (
        admin_client.post(
            reverse("portal:team"), {"email": "not-an-email", "role": "viewer"}
        ).status_code
        == 400
    )
    # The owner cannot be removed by an admin, nor as the last owner.
    admin_client.post(reverse("portal:team-member", args=[owner.pk, "remove"]))
    assert VendorUser.objects.filter(pk=owner.pk).exists()
    # Role change and removal, audited; the removed member is out on the next request.
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("portal:team-member", args=[dev.pk, "role"]), {"role": "viewer"})
    dev.refresh_from_db()
    assert dev.role == "viewer"
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("portal:team-member", args=[dev.pk, "remove"]))
    assert dev_client.get(reverse("portal:overview")).status_code == 403
    assert (
        AuditLog.objects.filter(action__in=["vendor.member_role", "vendor.member_remove"]).count()
        == 2
    )
    assert sum("your team changed" in m.subject for m in mail.outbox) == 2
    # Another vendor's member id reaches nothing.
    stranger_client, _stranger = _member("owner")
    stranger_client.post(reverse("portal:team-member", args=[admin.pk, "remove"]))
    assert VendorUser.objects.filter(pk=admin.pk).exists()


def _parallel_accepts(path: str, passwords: list[str]) -> list[tuple[int, str, str]]:
    """POST the invitation page from one connection per password at the same moment:
    (status, Location, page text) of each."""
    import threading

    from django.db import connection

    start = threading.Barrier(len(passwords))
    answers: list[tuple[int, str, str]] = []

    def accept(password: str) -> None:
        client = Client(raise_request_exception=False)
        try:
            start.wait(timeout=30)
            answer = client.post(path, {"password1": password, "password2": password})
            answers.append(
                (answer.status_code, answer.get("Location", ""), answer.content.decode())
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(p,)) for p in passwords]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_parallel_accepts_of_one_invitation_give_one_account_and_the_same_answer():
    """The invitee presses 'join' eight times at once (eight PostgreSQL connections): one
    account, one membership, and every press lands logged in on the overview."""
    _client, owner = _member("owner")
    invitation = owner.vendor.invitations.create(
        email="eight@roam.example",
        role="developer",
        token="eight-parallel-accepts",
        expires_at=timezone.now() + timedelta(days=1),
    )
    answers = _parallel_accepts(
        reverse("portal:invitation", args=[invitation.token]), [PASSWORD] * 8
    )
    assert [(status, where) for status, where, _ in answers] == [
        (302, reverse("portal:overview"))
    ] * 8
    assert VendorUser.objects.filter(user__email="eight@roam.example").count() == 1
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_accepts_with_different_passwords_let_one_in_and_tell_the_others():
    """Eight different people race for one invitation link: one account is made with the
    winner's password; the other seven get the page again (400) saying the invitation
    was already accepted, never a 500."""
    from django.contrib.auth import get_user_model

    _client, owner = _member("owner")
    invitation = owner.vendor.invitations.create(
        email="race@roam.example",
        role="developer",
        token="eight-different-passwords",
        expires_at=timezone.now() + timedelta(days=1),
    )
    passwords = [f"{PASSWORD}-{n}" for n in range(8)]
    answers = _parallel_accepts(reverse("portal:invitation", args=[invitation.token]), passwords)
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [302] + [400] * 7
    assert all("already accepted" in text for status, _, text in answers if status == 400)
    user = get_user_model().objects.get(email="race@roam.example")
    assert sum(user.check_password(p) for p in passwords) == 1
    assert VendorUser.objects.filter(user=user, vendor=owner.vendor).count() == 1


@pytest.mark.django_db
def test_join_pressed_again_after_the_account_was_made_lands_or_is_told():
    """A press of 'join' that arrives after the first one made the account (the link now
    used): the same password lands logged in, like the first press; another password is
    told the invitation was already accepted (400), not 'expired' (404)."""
    _client, owner = _member("owner")
    invitation = owner.vendor.invitations.create(
        email="late@roam.example",
        role="developer",
        token="pressed-again-late",
        expires_at=timezone.now() + timedelta(days=1),
    )
    path = reverse("portal:invitation", args=[invitation.token])
    first = Client().post(path, {"password1": PASSWORD, "password2": PASSWORD})
    assert first.status_code == 302

    again = Client().post(path, {"password1": PASSWORD, "password2": PASSWORD})
    assert (again.status_code, again["Location"]) == (302, reverse("portal:overview"))

    other = Client().post(path, {"password1": f"{PASSWORD}-x", "password2": f"{PASSWORD}-x"})
    assert other.status_code == 400
    assert "already accepted" in other.content.decode()
    assert VendorUser.objects.filter(user__email="late@roam.example").count() == 1

    # Nothing changes for a link nobody accepted, or a look at a used one.
    assert Client().get(path).status_code == 404
