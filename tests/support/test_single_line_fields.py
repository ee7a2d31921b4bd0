"""What ends up in an email's subject or a header is one line: a ticket's subject, a
vendor's name, a brand's display and sender names refuse line breaks and control
characters where they come in (API, portal, console), with a validation error that says
which character and where. An answer to a ticket stored before the rule is still emailed,
its subject flattened to one line, and an answer that cannot be emailed is shown to the
operators and puts the ticket back in their queue."""

from __future__ import annotations

from smtplib import SMTPRecipientsRefused
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from portal.forms import BrandForm, TicketForm, VendorSignupForm
from support.models import Ticket, TicketMessage
from support.services import ticket_open
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client, vendor_client
from tests.orders.helpers import post
from vendors.models import Vendor, VendorUser

pytestmark = pytest.mark.django_db

INJECTION = "Help\r\nBcc: x@evil.test"
BREAKING = [INJECTION, "Help\nme", "Tab\there", "NEL\x85here", "Line\u2028sep", "Bell\x07"]
ONE_LINE_ERROR = "Must be a single line: no line breaks or control characters"


@pytest.mark.parametrize("subject", BREAKING)
def test_a_ticket_subject_with_a_line_break_or_control_character_is_refused(subject):
    vendor = VendorFactory()
    for client, path in (
        (vendor_client(vendor), "/api/v1/vendor/tickets"),
        (customer_client(UserFactory()), "/api/v1/tickets"),
    ):
        answer = post(client, path, {"subject": subject, "body": "b"})
        assert answer.status_code == 400, answer.content
        error = answer.json()["error"]
        assert error["code"] == "validation_error"
        assert list(error["details"]) == ["subject"]
        assert error["details"]["subject"][0].startswith(ONE_LINE_ERROR)
    assert not Ticket.objects.exists()


def test_the_error_names_the_character_and_its_place():
    answer = post(
        vendor_client(VendorFactory()),
        "/api/v1/vendor/tickets",
        {"subject": INJECTION, "body": "b"},
    )
    assert answer.json()["error"]["details"]["subject"] == [
        f"{ONE_LINE_ERROR} (found U+000D at position 5)."
    ]


def test_names_that_become_senders_or_subjects_are_one_line_in_the_api():
    signup = post(
        APIClient(),
        "/api/v1/vendors/signup",
        {
            "company_name": "Evil\r\nBcc: x@evil.test",
            "contact_email": "a@b.example",
            "country": "GB",
            "billing_mode": "prepaid",
        },
    )
    assert signup.status_code == 400
    assert list(signup.json()["error"]["details"]) == ["company_name"]
    client = vendor_client(VendorFactory(status="active"))
    for field in ("display_name", "sender_name"):
        brand = client.put(
            "/api/v1/vendor/brand", {"display_name": "Shop", field: "Shop\nBcc: x"}, format="json"
        )
        assert brand.status_code == 400, brand.content
        assert list(brand.json()["error"]["details"]) == [field]
    assert not Vendor.objects.filter(name__contains="Evil").exists()


def test_the_portal_forms_and_the_console_refuse_them_too():
    assert "subject" in TicketForm({"subject": INJECTION, "body": "b"}).errors
    assert (
        "company_name"
        in VendorSignupForm(
            {"company_name": INJECTION, "country": "GB", "billing_mode": "prepaid"}
        ).errors
    )
    for field in ("display_name", "sender_name"):
        form = BrandForm({"display_name": "Shop", "primary_color": "#0f766e", field: INJECTION})
        assert field in form.errors
    vendor = VendorFactory(status="active")
    member = VendorUser.objects.create(vendor=vendor, user=UserFactory(), role="owner")
    portal = Client()
    portal.force_login(member.user)
    refused = portal.post(reverse("portal:support"), {"subject": INJECTION, "body": "b"})
    assert refused.status_code == 400 and "U+000D" in refused.content.decode()
    console = Client()
    console.force_login(operator("admin", is_superuser=True))
    page = console.post(
        reverse("admin:vendors_vendor_change", args=[vendor.pk]),
        {"name": INJECTION, "usage_alert_levels": "[50, 80]"},
    )
    assert page.status_code == 200 and "U+000D" in page.content.decode()
    vendor.refresh_from_db()
    assert "\n" not in vendor.name


def _answer(ticket: Ticket, capture, body: str = "Turn on roaming."):
    """Answer in the console; the outbox's send runs as the answer commits. Returns the
    console and the ticket's page after it."""
    console = Client()
    console.force_login(operator("support"))
    with capture(execute=True):
        answered = console.post(f"/admin/support/ticket/{ticket.pk}/answer/", {"body": body})
    assert answered.status_code == 302
    return console, console.get(f"/admin/support/ticket/{ticket.pk}/change/")


def _old_ticket(subject=INJECTION):
    """A vendor's ticket as stored before subjects were checked."""
    vendor = VendorFactory(contact_email="ops@vendor.example")
    ticket = ticket_open(vendor=vendor, subject="placeholder", body="Help")
    Ticket.objects.filter(pk=ticket.pk).update(subject=subject)
    ticket.refresh_from_db()
    return ticket


def test_an_old_ticket_with_a_line_break_in_its_subject_is_answered_and_emailed(
    django_capture_on_commit_callbacks,
):
    """It used to be a 500 (BadHeaderError) with the ticket marked answered, no email."""
    ticket = _old_ticket()
    _console, answered = _answer(ticket, django_capture_on_commit_callbacks)
    assert answered.status_code == 200
    sent = mail.outbox[-1]
    assert sent.to == ["ops@vendor.example"]
    assert sent.subject == f"Re: Help Bcc: x@evil.test (ticket #{ticket.pk})"
    headers = sent.message()
    assert headers["Bcc"] is None and "\n" not in headers["Subject"]
    answer = ticket.messages.get(author=TicketMessage.Author.OPERATOR)
    assert answer.email_status == TicketMessage.Email.SENT and answer.emailed_at is not None
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED


@pytest.mark.parametrize(
    "failure",
    [
        SMTPRecipientsRefused({"ops@vendor.example": (550, b"no such user")}),
        ConnectionRefusedError("mail server down"),
    ],
    ids=["refused", "server_down"],
)
def test_an_answer_that_cannot_be_emailed_is_shown_and_the_ticket_goes_back_to_the_queue(
    django_capture_on_commit_callbacks, failure
):
    from ttelgo.metrics import TICKET_ANSWER_EMAIL_FAILURES

    ticket = _old_ticket(subject="No data")
    before = TICKET_ANSWER_EMAIL_FAILURES._value.get()
    with mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages", side_effect=failure
    ) as send:
        console, answered = _answer(ticket, django_capture_on_commit_callbacks)
    assert answered.status_code == 200
    page = answered.content.decode()
    assert "could not be emailed" in page and f"failed: {type(failure).__name__}" in page
    assert send.call_count == 1
    answer = ticket.messages.get(author=TicketMessage.Author.OPERATOR)
    assert answer.email_status == TicketMessage.Email.FAILED
    assert answer.email_error.startswith(type(failure).__name__)
    ticket.refresh_from_db()
    # Not "answered": the requester was not told, so the operators have it again.
    assert ticket.status == Ticket.Status.OPEN and ticket.waiting_since is not None
    note = ticket.messages.get(author=TicketMessage.Author.NOTE)
    assert "could not be emailed" in note.body
    assert TICKET_ANSWER_EMAIL_FAILURES._value.get() == before + 1
    queue = console.get("/admin/support/ticket/").content.decode()
    assert f"failed: {type(failure).__name__}" in queue


def test_a_worker_retries_an_answer_while_the_mail_server_is_away_then_records_it():
    """On a worker (not eager): the server being away is retried with backoff, the
    answer stays queued; the last retry failing records the failure."""
    from celery.exceptions import Retry

    from support.services import operator_ticket_answer
    from support.tasks import ANSWER_EMAIL_RETRIES, ticket_answer_email

    ticket = _old_ticket(subject="No data")
    answer = operator_ticket_answer(ticket_id=ticket.pk, actor=operator("support"), body="Hi")
    down = mock.patch(
        "django.core.mail.backends.locmem.EmailBackend.send_messages",
        side_effect=ConnectionRefusedError("mail server down"),
    )
    for retries, expected in ((0, "queued"), (ANSWER_EMAIL_RETRIES, "failed")):
        ticket_answer_email.push_request(retries=retries, is_eager=False)
        try:
            with down, mock.patch.object(ticket_answer_email, "retry", side_effect=Retry()):
                if expected == "queued":
                    with pytest.raises(Retry):
                        ticket_answer_email.run(answer.pk)
                else:
                    ticket_answer_email.run(answer.pk)
        finally:
            ticket_answer_email.pop_request()
        answer.refresh_from_db()
        assert answer.email_status == expected
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
