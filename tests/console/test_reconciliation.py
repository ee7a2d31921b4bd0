"""Reconciliation: a clean platform has no findings; each planted discrepancy is found by
its check, carries its fix, and the fix goes through the owning service."""

from __future__ import annotations

import csv
import io
import time

import pytest
from django.test import Client
from django.utils import timezone

from ledger.models import Account
from orders.models import Order
from payments.models import Payment
from reconciliation.models import ReconciliationFinding, ReconciliationRun
from reconciliation.services import finding_fix, findings_csv, reconciliation_run
from sandbox.models import SandboxPaymentIntent
from sandbox.provider import SandboxFaults, SandboxProvider, sandbox_faults_set
from tests.console.factories import b2c_order, operator, order_row, pay, payment_row
from tests.ledger.factories import fund, prepaid
from tests.ledger.test_integrity import bypassing_triggers
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog

pytestmark = pytest.mark.django_db
F = ReconciliationFinding


def codes(run: ReconciliationRun) -> list[str]:
    return sorted(run.findings.values_list("code", flat=True))


def plant_stranger_intent(amount: int = 4200) -> SandboxPaymentIntent:
    """Money taken at "Stripe" that we never recorded."""
    return SandboxPaymentIntent.objects.create(
        id="pi_planted_stranger",
        idempotency_key="planted",
        amount=amount,
        currency="USD",
        status="succeeded",
        client_secret="pi_planted_stranger_secret_x",
        metadata={"order_id": "999999"},
        created=int(time.time()),
    )


@pytest.fixture
def completed(bundles, django_capture_on_commit_callbacks):
    order = b2c_order()
    with django_capture_on_commit_callbacks(execute=True):
        pay(order)
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    return order


def test_a_clean_platform_has_no_findings(completed):
    run = reconciliation_run()
    assert run.status == ReconciliationRun.Status.COMPLETED
    assert codes(run) == []
    assert run.summary == {
        "ledger": 0,
        "payments": 0,
        "provider": 0,
        "stuck": 0,
        "refunds": 0,
        "payouts": 0,
    }


def test_a_payment_stripe_took_that_we_never_recorded_is_found():
    plant_stranger_intent()
    run = reconciliation_run()
    finding = run.findings.get()
    assert (finding.category, finding.code) == ("payments", "payment_missing")
    assert "42.00 USD" in finding.message
    assert finding.object_id == "pi_planted_stranger"


def test_status_mismatch_is_fixed_by_re_reading_the_intent(bundles):
    order = b2c_order()
    payment = Payment.objects.get(order=order)
    SandboxPaymentIntent.objects.filter(pk=payment.payment_intent_id).update(status="succeeded")
    run = reconciliation_run()
    finding = run.findings.get(code="payment_status_mismatch")
    assert finding.fix == F.Fix.SYNC
    finding_fix(finding_id=finding.pk, actor=operator("finance"), action="sync", note="re-read")
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    finding.refresh_from_db()
    assert finding.status == F.Status.RESOLVED and finding.resolution == "sync: re-read"


def test_provider_orders_we_do_not_know_and_esims_the_provider_lacks(completed):
    SandboxProvider().create_order(bundle_code="esim_1GB_7D_GB_V2", quantity=1, reference="stray")
    ghost = order_row(status=Order.Status.COMPLETED, provider_reference="sbx-gone")
    run = reconciliation_run()
    assert codes(run) == ["esim_missing_at_provider", "provider_order_unknown"]
    assert run.findings.get(code="esim_missing_at_provider").order_id == ghost.pk


def test_ledger_integrity_findings_are_reported():
    vendor = prepaid()
    fund(vendor, 1000)
    with bypassing_triggers():  # PostgreSQL itself refuses this; plant it the way psql could
        Account.objects.filter(holder=vendor.pk, purpose="wallet").update(balance=999)
    run = reconciliation_run()
    finding = run.findings.get(category="ledger")
    assert finding.code == "balance_mismatch"
    assert finding.fix == F.Fix.RESOLVE


def test_an_unreachable_provider_does_not_stop_the_other_checks():
    plant_stranger_intent()
    sandbox_faults_set(SandboxFaults(mode="503"))
    run = reconciliation_run()
    assert codes(run) == ["check_failed", "payment_missing"]
    assert run.findings.get(code="check_failed").category == "provider"


def test_resolving_needs_a_note_and_the_reconciliation_permission():
    plant_stranger_intent()
    finding = reconciliation_run().findings.get()
    with pytest.raises(DomainError) as exc:
        finding_fix(finding_id=finding.pk, actor=operator("support"), action="resolve", note="x")
    assert exc.value.code == "permission_denied"
    with pytest.raises(DomainError) as exc:
        finding_fix(finding_id=finding.pk, actor=operator("finance"), action="resolve", note=" ")
    assert exc.value.code == "validation_error"
    with pytest.raises(DomainError):  # not a fix this finding offers
        finding_fix(finding_id=finding.pk, actor=operator("finance"), action="refund", note="x")
    finding_fix(finding_id=finding.pk, actor=operator("finance"), action="resolve", note="test pi")
    assert AuditLog.objects.filter(action="reconciliation.resolve").count() == 1


def test_support_cannot_run_reconciliation_and_finance_can():
    with pytest.raises(DomainError):
        reconciliation_run(actor=operator("support"))
    run = reconciliation_run(actor=operator("finance"))
    assert run.trigger == "operator"
    assert AuditLog.objects.get(action="reconciliation.run").target_id == str(run.pk)


def test_csv_export_lists_findings_and_defuses_formulas():
    plant_stranger_intent()
    run = reconciliation_run()
    ReconciliationFinding.objects.create(
        run=run, category="provider", code="provider_order_unknown", message="=HYPERLINK(1)"
    )
    rows = list(csv.DictReader(io.StringIO(findings_csv(run=run))))
    assert [r["code"] for r in rows] == ["payment_missing", "provider_order_unknown"]
    assert rows[1]["message"] == "'=HYPERLINK(1)"
    client = Client()
    client.force_login(operator("finance"))
    response = client.get(f"/admin/reconciliation/reconciliationrun/{run.pk}/csv/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert b"payment_missing" in response.content


def test_the_button_starts_a_run_on_a_worker_and_its_page_follows_it(
    django_capture_on_commit_callbacks,
):
    plant_stranger_intent()
    client = Client()
    client.force_login(operator("finance"))
    assert client.get("/admin/reconciliation/reconciliationrun/run-now/").status_code == 200
    with django_capture_on_commit_callbacks() as sent:
        response = client.post("/admin/reconciliation/reconciliationrun/run-now/")
    # The click returns at once: the checks run on a worker (the task is queued on commit).
    run = ReconciliationRun.objects.get()
    assert run.status == ReconciliationRun.Status.RUNNING and run.checks_done == 0
    assert response.status_code == 302 and response["Location"].endswith(f"/{run.pk}/change/")
    page = client.get(response["Location"]).content.decode()
    assert "running: 0 of 6 checks done" in page and 'http-equiv="refresh"' in page
    # A second click while it runs is refused on the form.
    again = client.post("/admin/reconciliation/reconciliationrun/run-now/")
    assert again.status_code == 200 and "still running" in again.content.decode()

    for callback in sent:
        callback()  # the worker's turn
    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.COMPLETED and run.checks_done == 6
    page = client.get(response["Location"]).content.decode()
    assert "payment_missing" in page and 'http-equiv="refresh"' not in page


def test_a_run_that_stops_making_progress_is_swept_as_failed_and_can_be_run_again(settings):
    from datetime import timedelta

    import time_machine

    from reconciliation.services import reconciliation_start, runs_sweep_stale

    settings.RECONCILIATION_STALE_SECONDS = 60
    run = reconciliation_start(actor=operator("finance"), enqueue=False)
    assert runs_sweep_stale() == 0  # still fresh
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert runs_sweep_stale() == 1
        run.refresh_from_db()
        assert run.status == ReconciliationRun.Status.FAILED and "stopped" in run.error
        again = reconciliation_start(actor=operator("finance"), enqueue=False)
    assert again.pk != run.pk


def test_the_beat_task_runs_reconciliation():
    from reconciliation.tasks import reconciliation_run as task

    plant_stranger_intent()
    result = task.delay().get()
    run = ReconciliationRun.objects.get()
    assert run.trigger == "schedule" and result == {"run": run.pk, "findings": 1}


def test_payment_rows_without_a_stripe_intent_are_found():
    order = order_row(status=Order.Status.COMPLETED)
    payment_row(order, intent="pi_only_ours")
    Order.objects.filter(pk=order.pk).update(provider_reference="")
    run = reconciliation_run()
    assert "payment_unknown_to_stripe" in codes(run)


def test_an_order_the_provider_delivered_but_we_still_provision_is_found(bundles):
    from fulfilment.provisioning import provider_reference_for

    order = order_row(status=Order.Status.PROVISIONING)
    SandboxProvider().create_order(
        bundle_code="esim_1GB_7D_GB_V2", quantity=1, reference=provider_reference_for(order.pk)
    )
    finding = reconciliation_run().findings.get(category="provider")
    assert finding.code == "provider_order_not_delivered"
    assert (finding.order_id, finding.fix) == (order.pk, F.Fix.REDRIVE)


def test_a_runs_page_shows_its_summary_as_a_table_not_json():
    run = ReconciliationRun.objects.create(
        status=ReconciliationRun.Status.COMPLETED,
        trigger="operator",
        window_start=timezone.now(),
        summary={"payments": 2, "ledger": 0},
    )
    client = Client()
    client.force_login(operator("finance"))
    body = client.get(f"/admin/reconciliation/reconciliationrun/{run.pk}/change/").content.decode()
    assert 'data-testid="run-summary"' in body
    assert '<td class="pr-6 py-1">payments</td><td class="py-1 text-right">2</td>' in body
    assert "&quot;payments&quot;" not in body and '"payments": 2' not in body
