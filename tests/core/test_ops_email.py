"""One helper sends every operational email (ttelgo/ops_email.py): an outbox message in
the caller's transaction, sent once it commits, to the operators' mailbox."""

from __future__ import annotations

import ast
from pathlib import Path
from smtplib import SMTPServerDisconnected
from unittest import mock

import pytest
from django.conf import settings
from django.core import mail
from django.db import transaction

from tests.core.test_queues import PROJECT_APPS
from ttelgo.models import OutboxMessage
from ttelgo.ops_email import SUPPORT, TASK, ops_email_send

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent.parent


def test_an_operational_email_is_an_outbox_message_sent_once_the_caller_commits(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        ops_email_send("3 order(s)\nstuck", "Look at them.")
        (row,) = OutboxMessage.objects.all()
        assert row.task == TASK
        assert mail.outbox == []
    (sent,) = mail.outbox
    assert sent.to == [settings.OPERATIONS_EMAIL]
    assert sent.subject == "[TTelGo] 3 order(s) stuck"  # one line, the prefix once
    assert sent.body == "Look at them."
    assert not OutboxMessage.objects.exists()


def test_nothing_is_sent_when_the_caller_rolls_back(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        ops_email_send("[TTelGo] Dispute opened on order 7", "Order 7 was disputed.")
        raise RuntimeError
    assert mail.outbox == [] and not OutboxMessage.objects.exists()


def test_the_support_mailbox_gets_nothing_queued_until_it_has_an_address(
    settings, django_capture_on_commit_callbacks
):
    settings.SUPPORT_EMAIL = ""
    ops_email_send("[support] #1 Help", "body", mailbox=SUPPORT)
    assert not OutboxMessage.objects.exists()
    settings.SUPPORT_EMAIL = "support@ttelgo.example"
    with django_capture_on_commit_callbacks(execute=True):
        ops_email_send("[support] #1 Help", "body", mailbox=SUPPORT)
    (sent,) = mail.outbox
    assert (sent.to, sent.subject) == (["support@ttelgo.example"], "[TTelGo] [support] #1 Help")


def test_an_unknown_mailbox_is_refused():
    with pytest.raises(ValueError):
        ops_email_send("s", "b", mailbox="everyone")


def test_an_smtp_outage_does_not_undo_or_break_the_committed_change(
    django_capture_on_commit_callbacks, caplog
):
    with (
        mock.patch("ttelgo.ops_email.send_mail", side_effect=SMTPServerDisconnected("gone")),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        ops_email_send("Wallet top-up pi_1 refunded", "body")
    assert "not sent" in caplog.text


def test_the_old_operational_email_task_names_still_deliver(settings):
    """Messages queued under the names the helper replaced still run (removal: one
    release after this change)."""
    from celery import current_app

    settings.SUPPORT_EMAIL = "support@ttelgo.example"
    current_app.loader.import_default_modules()
    current_app.tasks["vendors.tasks.operations_email_send"].apply(args=("New signup", "b"))
    current_app.tasks["support.tasks.support_email_send"].apply(args=("[support] #2", "b"))
    assert [m.to for m in mail.outbox] == [[settings.OPERATIONS_EMAIL], [settings.SUPPORT_EMAIL]]


def _app_modules() -> list[Path]:
    return [
        path
        for app in PROJECT_APPS
        if app != "config"
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    ]


def test_no_app_module_emails_the_operators_but_the_helper():
    """send_mail/mail_admins to the operators' addresses only in ttelgo/ops_email.py."""
    offenders = []
    for path in _app_modules():
        if path == ROOT / "ttelgo" / "ops_email.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in (
                "OPERATIONS_EMAIL",
                "SUPPORT_EMAIL",
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}")
            if isinstance(node, ast.Name | ast.Attribute) and (
                getattr(node, "id", None) == "mail_admins"
                or getattr(node, "attr", None) == "mail_admins"
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} mail_admins")
    assert offenders == [], "email the operators with ttelgo.ops_email.ops_email_send"
