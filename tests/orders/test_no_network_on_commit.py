"""No HTTP, gateway, provider or SMTP call runs in an on-commit callback: what must call
out after a commit is an outbox message, so a failure leaves a row to retry instead of an
exception after the caller's change committed (or a call that is simply lost)."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import transaction

from orders.models import Order
from orders.receivers import LATE_PAYMENT_REASON, order_payment_succeeded
from tests.core.test_queues import PROJECT_APPS
from tests.payments.factories import OrderFactory
from ttelgo.models import OutboxMessage
from ttelgo.outbox import outbox_relay

ROOT = Path(__file__).resolve().parent.parent.parent
REFUND_TASK = "payments.tasks.order_payment_refund"


@pytest.mark.django_db
def test_a_late_payment_is_refunded_by_an_outbox_message_not_in_an_on_commit_call(
    django_capture_on_commit_callbacks,
):
    order = OrderFactory(status=Order.Status.CANCELLED)
    with (
        # Where the refund task looks it up. (Patching it in payments.services instead
        # bound the mock into payments.tasks for good when this test imported it first,
        # and every later card refund of the session did nothing.)
        mock.patch("payments.tasks.payment_refund_for_order") as gateway_refund,
        mock.patch("payments.tasks.order_payment_refund.delay") as send,
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        order_payment_succeeded(order_id=order.pk)
        (row,) = OutboxMessage.objects.all()
        assert (row.task, row.args) == (REFUND_TASK, [order.pk, LATE_PAYMENT_REASON])
    # After the commit the refund task is queued (a worker calls the gateway, with its
    # retries); nothing called the gateway from the commit hook.
    send.assert_called_once_with(order.pk, LATE_PAYMENT_REASON)
    assert gateway_refund.call_count == 0
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_a_late_payment_refund_that_cannot_go_out_at_commit_is_kept_and_sent_later(
    django_capture_on_commit_callbacks,
):
    """The broker (or, run eagerly, the gateway: a connection error) fails after the
    commit: the order is as committed and the outbox row stays; the relay refunds it."""
    order = OrderFactory(status=Order.Status.CANCELLED)
    with (
        mock.patch(
            "payments.tasks.order_payment_refund.delay",
            side_effect=ConnectionError("unreachable"),
        ),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        order_payment_succeeded(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert OutboxMessage.objects.filter(task=REFUND_TASK).count() == 1

    with mock.patch("payments.tasks.payment_refund_for_order") as refund:
        assert outbox_relay(grace=timedelta(0)) == 1
    refund.assert_called_once_with(order_id=order.pk, reason=LATE_PAYMENT_REASON, actor=None)
    assert not OutboxMessage.objects.exists()


# What an on-commit callback must not call: email, the payment gateway, the provider, HTTP.
NETWORK = re.compile(
    r"\b(send_mail|send_mass_mail|mail_admins|EmailMessage|EmailMultiAlternatives"
    r"|\w*refund\w*|\w*gateway\w*|get_provider|provider\w*|requests|httpx|urlopen)\b"
)


def _callback_sources(tree: ast.Module, source: str) -> list[tuple[int, str]]:
    """(line, source) of every on_commit callback: the lambda, or the body of the module
    function (or nested function) it names."""
    functions = {
        node.name: ast.get_source_segment(source, node) or ""
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
    }
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name != "on_commit":
            continue
        callback = node.args[0]
        if isinstance(callback, ast.Lambda):
            found.append((node.lineno, ast.get_source_segment(source, callback.body) or ""))
        elif isinstance(callback, ast.Name):
            found.append((node.lineno, functions.get(callback.id, "")))
        else:
            found.append((node.lineno, ast.get_source_segment(source, callback) or ""))
    return found


def test_no_on_commit_callback_in_app_code_calls_out():
    offenders = []
    scanned = 0
    for app in PROJECT_APPS:
        for path in (ROOT / app).rglob("*.py"):
            source = path.read_text()
            if "on_commit(" not in source:
                continue
            for line, callback in _callback_sources(ast.parse(source), source):
                scanned += 1
                if NETWORK.search(callback):
                    offenders.append(f"{path.relative_to(ROOT)}:{line}: {callback.strip()[:80]}")
    assert scanned >= 10
    assert offenders == [], "queue it through ttelgo.outbox.task_enqueue instead"
