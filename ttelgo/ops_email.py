"""Operational email: the one way the platform tells its operators something by email
(a vendor signed up, orders are stuck in provisioning, a payment was disputed, a wallet
top-up was refunded, a support ticket was opened or answered).

`ops_email_send(subject, body)` records an outbox message for `ttelgo.tasks.ops_email_send`
in the caller's transaction: the email goes out once that transaction commits and only
then, never from inside it or from an on-commit callback (SMTP is a network call). A
broker outage delays it (the outbox relay sends it later); an SMTP outage is retried by
the task. Every operational email has the `[TTelGo] ` subject prefix operators filter on.

Mailboxes: `operations` (OPERATIONS_EMAIL, the default) and `support` (SUPPORT_EMAIL, the
support team's queue; empty means nobody is emailed).
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from ttelgo.outbox import task_enqueue
from ttelgo.validators import one_line

TASK = "ttelgo.tasks.ops_email_send"
OPERATIONS = "operations"
SUPPORT = "support"
# Mailbox -> the setting that holds its address.
MAILBOXES: dict[str, str] = {OPERATIONS: "OPERATIONS_EMAIL", SUPPORT: "SUPPORT_EMAIL"}
SUBJECT_PREFIX = "[TTelGo] "


def ops_email_address(mailbox: str = OPERATIONS) -> str:
    """The address of an operators' mailbox ("" when that mailbox is not configured)."""
    if mailbox not in MAILBOXES:
        raise ValueError(f"unknown operators' mailbox {mailbox!r}")
    return str(getattr(settings, MAILBOXES[mailbox]) or "")


def ops_email_send(subject: str, body: str, *, mailbox: str = OPERATIONS) -> None:
    """Email the operators' `mailbox` once the current transaction commits (through the
    outbox; nothing is sent if it rolls back). The subject is made one line and carries
    the `[TTelGo] ` prefix once. Nothing is queued for a mailbox with no address."""
    if not ops_email_address(mailbox):
        return
    subject = one_line(subject)
    if not subject.startswith(SUBJECT_PREFIX):
        subject = SUBJECT_PREFIX + subject
    task_enqueue(TASK, subject, body, mailbox)


def ops_email_deliver(subject: str, body: str, mailbox: str = OPERATIONS) -> None:
    """Send one operational email now (the task's work; SMTP errors propagate)."""
    address = ops_email_address(mailbox)
    if address:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [address])
