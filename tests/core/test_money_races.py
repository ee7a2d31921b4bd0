"""Generated race test over every money path: twenty requests at once (threads, each with
its own connection and Idempotency-Key) move exactly what the allowed number of single
requests move — ledger, provider purchases and revocations, gateway charges and refunds —
and the ledger integrity check stays clean.

The paths come from the URL conf (every API method that writes, every portal and token
page) and from the operator actions (every public function of an app's `operator.py` and
every `operator_*` service, and the console's bulk actions). Each is either a race entry
(tests/core/money_race_entries.py) or listed in NO_MONEY with the reason it moves none: a
money path added without its entry fails `test_every_write_path_is_classified`."""

from __future__ import annotations

import pytest
from django.test import override_settings

from ledger.integrity import ledger_integrity_check
from tests.core.money_race_entries import RACES, N
from tests.core.money_race_setups import ESIMGO_KEY
from tests.core.money_races import (
    beat_jobs,
    console_actions,
    failures,
    moved_between,
    movement,
    operator_actions,
    provider_calls_counted,
    race,
    succeeded,
    write_routes,
)

# Path -> the race entry (or entries) that cover it.
MONEY: dict[str, str | tuple[str, ...]] = {
    "POST api/v1/orders": "B2C order",
    "POST api/v1/vendor/orders": ("B2B order", "B2B order from stock"),
    "POST api/v1/esims/<str:iccid>/topups": "B2C top-up",
    "POST api/v1/vendor/esims/<str:iccid>/topups": "B2B top-up",
    "POST api/v1/esims/<str:iccid>/refund": "B2C eSIM refund",
    "POST api/v1/vendor/esims/<str:iccid>/refund": "B2B eSIM refund",
    "POST api/v1/vendor/iot/sims/<str:iccid>/topups": "B2B IoT SIM top-up",
    "POST api/v1/vendor/wallet/topups": "wallet top-up",
    "POST api/v1/vendor/sub-vendors/<int:sub_vendor_id>/transfers": (
        "sub-vendor transfer",
        "sub-vendor transfer, one key",
    ),
    "POST api/v1/vendor/invoices/<int:invoice_id>/pay": "invoice payment",
    "POST api/v1/sandbox/payment_intents/<str:payment_intent_id>/succeed": (
        "sandbox payment succeeds"
    ),
    "POST api/v1/webhooks/stripe": "Stripe webhook",
    "POST api/v1/webhooks/esimgo": "eSIM Go usage callback: auto top-up",
    "orders.operator.operator_review_approve": "operator: review approve",
    "fulfilment.provider_refunds.operator_provider_credit_match": (
        "operator: provider credit matched"
    ),
    "fulfilment.admin.esims.ProviderRefundAdmin page:fulfilment_providerrefund_credit_detail": (
        "operator: provider credit matched"
    ),
    "orders.operator.operator_review_reject": "operator: review reject",
    "fulfilment.operator.operator_order_refund": "operator: order refund (B2C)",
    "orders.operator.operator_order_redrive": "operator: order redrive",
    "billing.operator.operator_invoice_settle": "operator: invoice settle",
    "billing.operator.operator_vendor_adjust": "operator: wallet adjustment",
    "console.operator.operator_payment_refund": "operator: wallet top-up refund",
    "fulfilment.refunds.operator_esim_refund_approve": "operator: eSIM refund approve",
    "webhooks.operator.operator_inbound_reprocess": "operator: inbound event reprocess",
    # Portal pages call the same services as the API entries (portal/*_actions.py).
    "PAGE portal/billing/refill": "portal: play money refill",
    "PAGE portal/billing/payments/<int:payment_id>/test-card/<slug:outcome>": (
        "portal: test card pays a payment"
    ),
    "PAGE portal/billing/topup": "wallet top-up",
    "PAGE portal/billing/invoices/<int:invoice_id>/pay": "invoice payment",
    # (test mode) a simulated usage, read back through esim_usage_apply.
    "PAGE portal/esims/<str:iccid>/<slug:action>": "eSIM Go usage callback: auto top-up",
    # The order and top-up forms carry their idempotency key: one order per confirm form.
    "PAGE portal/orders/new": "portal: order confirmed 20 times",
    "PAGE portal/esims/<str:iccid>/topup": "portal: top-up confirmed 20 times",
    "PAGE portal/orders/bulk/": "portal: bulk order of one file, uploaded 20 times",
    "PAGE e/<str:token>/topup": "B2C top-up",
    "PAGE portal/test/simulate/<slug:what>": (
        "portal: simulated wallet top-up",
        "portal: simulated provisioning failure",
    ),
    # Beat jobs that buy, refund or revoke
    "beat fulfilment.tasks.auto_topups_expiry_check": "beat: auto top-ups at expiry",
    "beat fulfilment.tasks.orders_late_deliveries_revoke": "beat: late deliveries revoked",
    "beat fulfilment.tasks.orders_redrive_stuck": "beat: stuck orders re-driven",
    "beat fulfilment.tasks.orders_delivery_guarantee": "beat: delivery guarantee",
    "beat fulfilment.tasks.provider_refunds_collect": "beat: provider refunds collected",
    "beat payments.tasks.card_fees_sweep": "beat: card fees swept",
    "beat fulfilment.tasks.esim_refunds_resume": "beat: eSIM refunds resumed",
    "beat fulfilment.tasks.stock_refill": "beat: stock refill",
    "beat fulfilment.tasks.stock_age": "beat: stock ageing",
    "fulfilment.stock.operator.operator_stock_refill": "operator: stock refill",
    "fulfilment.stock.operator.operator_stock_release": "operator: stock release",
    "fulfilment.stock.admin.StockSettingAdmin.refill_now": "operator: stock refill",
    "fulfilment.stock.admin.StockSettingAdmin.release": "operator: stock release",
    # Usage polled from the provider goes through the callback's esim_usage_apply.
    "beat fulfilment.tasks.esims_usage_refresh": "eSIM Go usage callback: auto top-up",
    # Queues the handlers of inbound events not processed yet: the same handlers.
    "beat webhooks.tasks.inbound_events_redrive": (
        "Stripe webhook",
        "operator: inbound event reprocess",
    ),
    # Console bulk actions call the operator services above.
    "billing.admin.InvoiceAdmin.settle_outstanding": "operator: invoice settle",
    "fulfilment.admin.orders.OrderAdmin.redrive_selected": "operator: order redrive",
    "fulfilment.admin.orders.OrderReviewAdmin.approve_selected": "operator: review approve",
    "webhooks.admin.InboundEventAdmin.reprocess": "operator: inbound event reprocess",
    # Console pages of one object call the operator services above.
    "fulfilment.admin.orders.OrderAdmin page:orders_order_refund_detail": "operator: order refund (B2C)",
    "fulfilment.admin.orders.OrderAdmin page:orders_order_redrive_detail": "operator: order redrive",
    "fulfilment.admin.orders.OrderAdmin page:orders_order_approve_detail": "operator: review approve",
    "fulfilment.admin.orders.OrderAdmin page:orders_order_reject_detail": "operator: review reject",
    "fulfilment.admin.orders.OrderReviewAdmin page:orders_orderreview_approve_detail": (
        "operator: review approve"
    ),
    "fulfilment.admin.orders.OrderReviewAdmin page:orders_orderreview_reject_detail": (
        "operator: review reject"
    ),
    "fulfilment.admin.esims.EsimRefundAdmin page:fulfilment_esimrefund_approve_detail": (
        "operator: eSIM refund approve"
    ),
    "webhooks.admin.InboundEventAdmin page:webhooks_inboundevent_reprocess_detail": (
        "operator: inbound event reprocess"
    ),
    "reconciliation.admin.ReconciliationFindingAdmin page:"
    "reconciliation_reconciliationfinding_fix_detail": "operator: reconciliation refund",
    "console.admin.payments.PaymentAdmin page:payments_payment_refund_detail": (
        "operator: wallet top-up refund"
    ),
    "console.admin.vendors.VendorAdmin page:vendors_vendor_adjust_detail": (
        "operator: wallet adjustment"
    ),
}

# Path -> why it moves no money and revokes no eSIM.
NO_MONEY = {
    # API
    "POST api/v1/webhooks/airalo": (
        "an async order delivered queues its provisioning (the order entries' lease buys)"
    ),
    "POST api/v1/auth/register": "creates a customer account",
    "POST api/v1/auth/token": "issues tokens",
    "POST api/v1/auth/token/refresh": "issues tokens",
    "PATCH api/v1/me": "edits the customer's profile",
    "POST api/v1/auto-topups": "records a rule; it buys when it fires (the usage entries)",
    "PATCH api/v1/auto-topups/<int:rule_id>": "edits a rule",
    "DELETE api/v1/auto-topups/<int:rule_id>": "deletes a rule",
    "POST api/v1/vendor/auto-topups": "records a rule; it buys when it fires",
    "PATCH api/v1/vendor/auto-topups/<int:rule_id>": "edits a rule",
    "DELETE api/v1/vendor/auto-topups/<int:rule_id>": "deletes a rule",
    "POST api/v1/orders/<int:order_id>/cancel": "cancels an unpaid PaymentIntent; no charge",
    "POST api/v1/vendor/esims/<str:iccid>/resend": "emails the eSIM again",
    "POST api/v1/vendors/signup": "creates a pending vendor",
    "PUT api/v1/vendor/brand": "edits branding",
    "PATCH api/v1/vendor/brand": "edits branding",
    "POST api/v1/vendor/webhook-endpoints": "webhook configuration",
    "PATCH api/v1/vendor/webhook-endpoints/<int:endpoint_id>": "webhook configuration",
    "DELETE api/v1/vendor/webhook-endpoints/<int:endpoint_id>": "webhook configuration",
    "POST api/v1/vendor/webhook-endpoints/<int:endpoint_id>/rotate-secret": "a secret",
    "POST api/v1/vendor/webhook-endpoints/<int:endpoint_id>/test": "a test delivery",
    "POST api/v1/vendor/webhook-deliveries/<int:delivery_id>/retry": "resends a delivery",
    "POST api/v1/sandbox/payment_intents/<str:payment_intent_id>/fail": "a declined card",
    "POST api/v1/tickets": "support",
    "POST api/v1/tickets/<int:ticket_id>/messages": "support",
    "POST api/v1/vendor/tickets": "support",
    "POST api/v1/vendor/sub-vendors": "opens a sub-vendor's account; it moves no money",
    "PATCH api/v1/vendor/sub-vendors/<int:sub_vendor_id>": "a markup for later orders",
    "PUT api/v1/vendor/sub-vendor-settings": "a webhook preference",
    "POST api/v1/vendor/sub-vendors/<int:sub_vendor_id>/credit-limit": (
        "sets a credit line, no posting (the parent's row lock keeps the grants within "
        "its own credit: tests/ledger/test_sub_vendors.py)"
    ),
    "POST api/v1/vendor/tickets/<int:ticket_id>/messages": "support",
    "POST api/v1/webhooks/inbound-email": "support mail",
    "POST api/v1/vendor/iot/sims/bulk": "enables/disables SIMs",
    "POST api/v1/vendor/iot/sims/<str:iccid>/refresh": "reads the SIM from the provider",
    "POST api/v1/vendor/iot/sims/<str:iccid>/label": "a label",
    "POST api/v1/vendor/iot/sims/<str:iccid>/enable": "SIM status",
    "POST api/v1/vendor/iot/sims/<str:iccid>/disable": "SIM status",
    "POST api/v1/vendor/iot/sims/<str:iccid>/auto-topup": (
        "records a setting; the top-up it starts is iot.tasks.iot_auto_topup (raced in"
        " tests/iot/test_fleet.py: monthly caps under concurrent crossings)"
    ),
    "POST api/v1/vendor/iot/auto-topup": "records a setting (as above)",
    "POST api/v1/vendor/iot/sims/<str:iccid>/sms/sync": "reads SMS from the provider",
    "POST api/v1/vendor/iot/sms": "sends SMS (the provider's SMS are in the SIM's quota)",
    "POST api/v1/vendor/iot/sims/<str:iccid>/events/sync": "reads SIM events from the provider",
    # Portal and token pages
    "PAGE portal/": "shows the overview",
    "PAGE portal/mode": "switches live/test view",
    "PAGE portal/keys/": "API keys",
    "PAGE portal/keys/<str:key_id>/revoke": "API keys",
    "PAGE portal/brand/": "branding",
    "PAGE portal/orders/": "lists orders",
    "PAGE portal/orders/<order:order_id>": "shows an order (by its public id)",
    "PAGE portal/timezone": "sets the zone the portal shows times in",
    "PAGE portal/billing/payments/<int:payment_id>/receipt.pdf": "renders a top-up's receipt",
    "PAGE portal/test/outbox": "lists the emails test mode kept instead of sending",
    "PAGE portal/orders/bulk/<int:bulk_id>": "shows a bulk order's progress and results",
    "PAGE portal/esims/": "lists eSIMs",
    "PAGE portal/catalogue/": "lists bundles",
    "PAGE portal/iot/": "lists IoT SIMs; enables/disables the ticked ones (a bulk job)",
    "PAGE portal/iot/sms/": "sends SMS (once per the form's key) and lists them",
    "PAGE portal/iot/auto-topup/": "records the fleet's auto top-up setting",
    "PAGE portal/iot/sims/<str:iccid>": (
        "shows a SIM; reads it from the provider; records its auto top-up; sends it an SMS"
    ),
    "PAGE portal/iot/sims/<str:iccid>/topup": (
        "buys through the API's service (iot.services.topup_buy) under the API's"
        " idempotency, as the race entry 'B2B IoT SIM top-up'; a double confirm charges once"
        " (tests/iot/test_portal.py)"
    ),
    "PAGE portal/billing/": "shows the statement",
    "PAGE portal/billing/invoices/<int:invoice_id>.<slug:fmt>": "downloads an invoice",
    "PAGE portal/billing/payments/<int:payment_id>": "shows a payment",
    "PAGE portal/request-log/": "request log",
    "PAGE portal/sub-vendors/": "reads the reseller tree and its orders",
    "PAGE portal/request-log/<int:log_id>": "request log",
    "PAGE portal/test/": "shows the test tools",
    "PAGE portal/team/": "team",
    "PAGE portal/team/<int:member_id>/<slug:action>": "team",
    "PAGE portal/invitations/<str:token>": "team",
    "PAGE portal/auto-topups/": "lists and creates rules; a rule buys when it fires",
    "PAGE portal/auto-topups/<int:rule_id>/edit": "edits a rule",
    "PAGE portal/auto-topups/<int:rule_id>/<slug:action>": "pauses or resumes a rule",
    "PAGE portal/support/": "support",
    "PAGE portal/webhooks/": "webhook configuration",
    "PAGE portal/billing/tax": "the vendor's tax details (country, VAT number)",
    "PAGE portal/webhooks/<int:endpoint_id>/edit": "webhook configuration",
    "PAGE portal/webhooks/deliveries/<int:delivery_id>": "webhook configuration",
    "PAGE portal/webhooks/deliveries/retry": "resends deliveries",
    "PAGE portal/webhooks/<int:endpoint_id>/<slug:action>": "webhook configuration",
    "PAGE portal/webhooks/deliveries/<int:delivery_id>/retry": "resends a delivery",
    "PAGE e/<str:token>": "the install page",
    "PAGE e/<str:token>/help": "support",
    "PAGE pay/<str:token>": "shows a held payment; the browser confirms it at Stripe",
    "PAGE t/<str:token>": "support",
    # Beat jobs
    "beat fulfilment.tasks.esims_expiry_notify": "emails",
    "beat catalogue.tasks.catalogue_sync": "catalogue",
    "beat orders.tasks.orders_awaiting_payment_expire": "cancels unpaid intents; no charge",
    "beat billing.tasks.invoices_close_due": (
        "issues a document, once per vendor and month (a unique constraint); moves no money"
    ),
    "beat billing.tasks.invoices_mark_overdue": "an invoice's status",
    "beat reconciliation.tasks.reconciliation_run": "reports findings; fixes nothing",
    "beat reconciliation.tasks.reconciliation_runs_sweep": "closes stale runs",
    "fulfilment.admin.orders.OrderAdmin page:orders_order_tax_report": "downloads a report",
    "beat payments.tasks.payouts_record": (
        "books each paid payout once under its unique ledger reference (payout:<id>); the "
        "sandbox makes no payouts to race (tests/payments/test_card_fees.py books one twice)"
    ),
    "beat ttelgo.tasks.idempotency_keys_purge": "deletes expired keys",
    "beat console.tasks.dashboard_refresh": "reads figures into the cache",
    "beat ledger.tasks.ledger_checkpoint_advance": (
        "folds entry totals under an advisory lock; moves no money "
        "(tests/ledger/test_checkpoints.py races two advances)"
    ),
    "beat webhooks.tasks.deliveries_send_due": "sends vendor webhooks",
    "beat ttelgo.tasks.outbox_relay": (
        "hands queued tasks to the broker again; each task's work is raced in its entry"
    ),
    "beat vendors.tasks.request_logs_prune": "deletes old log lines",
    "beat iot.tasks.iot_fleet_sync": (
        "records SIMs and quotas; a crossing queues iot.tasks.iot_auto_topup, whose caps"
        " hold under concurrent crossings (tests/iot/test_fleet.py)"
    ),
    "beat iot.tasks.iot_usage_sync": "records usage",
    "beat iot.tasks.iot_sms_replies_sync": "records SMS replies",
    "beat iot.tasks.iot_events_sync": (
        "records SIM events; a status change among them fires once (tests/iot/test_events.py)"
    ),
    "beat iot.tasks.iot_topups_reconcile": (
        "charges or releases the hold of a top-up whose outcome is unknown, once, and never"
        " buys: raced in tests/iot/test_topup_reconcile.py (concurrent reconcilers and the"
        " buy call's late answer on PostgreSQL)"
    ),
    # Operator actions
    "orders.operator.operator_order_cancel": "cancels an unpaid PaymentIntent; no charge",
    "fulfilment.operator.refund_limit_for": "reads a setting",
    "fulfilment.refunds.operator_esim_refund_reject": "closes a refund request unpaid",
    "vendors.operator.operator_vendor_approve": "vendor status",
    "vendors.operator.operator_vendor_suspend": "vendor status",
    "vendors.operator.operator_vendor_reactivate": "vendor status",
    "vendors.operator.operator_vendor_close": "vendor status",
    "vendors.operator.operator_vendor_credit_limit": "sets a limit; moves no money",
    "catalogue.operator.operator_provider_rule_save": "ranks or drains a provider for later sales",
    "fulfilment.operator.order_left_to_refund": "reads what is left to refund",
    "vendors.operator.operator_vendor_tier": "prices of later orders",
    "vendors.operator.operator_api_key_issue": "API keys",
    "vendors.operator.operator_api_key_revoke": "API keys",
    "catalogue.operator.operator_catalogue_sync": "catalogue",
    "catalogue.operator.operator_bundle_overrides": "catalogue",
    "fulfilment.stock.operator.operator_stock_setting_save": (
        "stock levels; the refill that follows them is the beat entry"
    ),
    "catalogue.operator.operator_price_rule_save": "prices of later orders",
    "catalogue.operator.operator_price_rule_delete": "prices of later orders",
    "webhooks.operator.operator_delivery_replay": "resends a delivery",
    "webhooks.operator.operator_endpoint_set_enabled": "webhook configuration",
    "support.services.operator_ticket_answer": "support",
    "support.services.operator_ticket_note": "support",
    "support.services.operator_ticket_assign": "support",
    "ttelgo.permissions.operator_require": "a role check",
    "ttelgo.admin.console.operator_form": "a form",
    # Console bulk actions
    "allauth.account.admin.EmailAddressAdmin.make_verified": "accounts",
    "console.admin.vendors.VendorAPIKeyAdmin.revoke": "API keys",
    "console.admin.vendors.VendorAdmin.approve": "vendor status",
    "console.admin.vendors.VendorAdmin.change_credit_limit": "sets a limit; moves no money",
    "console.admin.vendors.VendorAdmin.change_tier": "prices of later orders",
    "console.admin.vendors.VendorAdmin.close": "vendor status",
    "console.admin.vendors.VendorAdmin.issue_api_key": "API keys",
    "console.admin.vendors.VendorAdmin.reactivate": "vendor status",
    "console.admin.vendors.VendorAdmin.suspend": "vendor status",
    "django_celery_beat.admin.PeriodicTaskAdmin.disable_tasks": "the schedule",
    "django_celery_beat.admin.PeriodicTaskAdmin.enable_tasks": "the schedule",
    "django_celery_beat.admin.PeriodicTaskAdmin.run_tasks": "queues scheduled sweeps now",
    "django_celery_beat.admin.PeriodicTaskAdmin.toggle_tasks": "the schedule",
    "catalogue.admin.BundleAdmin.hide": "catalogue",
    "catalogue.admin.BundleAdmin.unhide": "catalogue",
    "reconciliation.admin.ReconciliationFindingAdmin.resolve_selected": "marks resolved only",
    "webhooks.admin.WebhookDeliveryAdmin.replay": "resends a delivery",
    "webhooks.admin.WebhookEndpointAdmin.disable": "webhook configuration",
    "webhooks.admin.WebhookEndpointAdmin.enable": "webhook configuration",
    "billing.admin.InvoiceAdmin page:billing_invoice_csv": "downloads an invoice",
    "catalogue.admin.BundleAdmin page:catalogue_bundle_sync_now": "catalogue",
    "ledger.admin.AccountAdmin page:ledger_trial_balance": "a report",
    "billing.admin.InvoiceAdmin page:billing_invoice_pdf": "downloads an invoice",
    "fulfilment.admin.orders.OrderAdmin page:orders_order_cancel_detail": "cancels an unpaid intent",
    "fulfilment.admin.esims.EsimRefundAdmin page:fulfilment_esimrefund_reject_detail": "closes it unpaid",
    "webhooks.admin.WebhookDeliveryAdmin page:webhooks_webhookdelivery_replay_detail": (
        "resends a delivery"
    ),
    "reconciliation.admin.ReconciliationRunAdmin page:reconciliation_reconciliationrun_run_now": (
        "runs the checks; fixes are the finding's page"
    ),
    "reconciliation.admin.ReconciliationRunAdmin page:"
    "reconciliation_reconciliationrun_export_csv": "downloads findings",
    "support.admin.TicketAdmin page:support_ticket_answer_detail": "support",
    "support.admin.TicketAdmin page:support_ticket_note_detail": "support",
    "support.admin.TicketAdmin page:support_ticket_assign_detail": "support",
    "console.admin.vendors.VendorAdmin page:vendors_vendor_approve_detail": "vendor status",
    "console.admin.vendors.VendorAdmin page:vendors_vendor_suspend_detail": "vendor status",
    "console.admin.vendors.VendorAdmin page:vendors_vendor_reactivate_detail": "vendor status",
    "console.admin.vendors.VendorAdmin page:vendors_vendor_credit_limit_detail": (
        "sets a limit; moves no money"
    ),
}


def _found() -> list[str]:
    return write_routes() + operator_actions() + console_actions() + beat_jobs()


@pytest.mark.django_db
def test_every_write_path_is_classified():
    found = _found()
    assert len(found) > 60
    unclassified = [p for p in found if p not in MONEY and p not in NO_MONEY]
    assert unclassified == [], "a new write path: add its race entry to MONEY or say why not"
    assert set(MONEY) & set(NO_MONEY) == set()
    stale = sorted((set(MONEY) | set(NO_MONEY)) - set(found))
    assert stale == [], "listed paths that no longer exist"
    covering = {name for v in MONEY.values() for name in ((v,) if isinstance(v, str) else v)}
    assert covering <= set(RACES)


@pytest.mark.urls("tests.core.urls_money_extra")
def test_a_write_endpoint_added_without_its_entry_is_reported():
    unclassified = [p for p in _found() if p not in MONEY and p not in NO_MONEY]
    assert unclassified == ["POST api/v1/vendor/payouts"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(RACES))
def test_twenty_at_once_move_what_the_allowed_requests_move(name):
    entry = RACES[name]
    with provider_calls_counted(), override_settings(ESIMGO_API_KEY=ESIMGO_KEY):
        one_ctx = entry.prepare()
        before = movement()
        one = [entry.attempt(one_ctx, 0)]
        assert succeeded(one[0]), f"one request alone must succeed: {one[0]!r}"
        if entry.settle:
            entry.settle(one_ctx, one)
        single = moved_between(before, movement())
        assert any(single.values()) == entry.moves, f"one request alone moved {single}"

        ctx = entry.prepare()
        before = movement()
        results = race(lambda i: entry.attempt(ctx, i), N)
        if entry.settle:
            entry.settle(ctx, results)
        moved = moved_between(before, movement())

    allowed = entry.allowed(ctx, results)
    ok = sum(succeeded(r) for r in results)
    expected = {k: v * allowed for k, v in single.items()}
    assert failures(results) == [], f"{name}: {ok} of {N} succeeded"
    assert moved == expected, (
        f"{name} ({entry.rule}): {ok} of {N} succeeded; allowed {allowed}; "
        f"moved {_diff(moved, expected)}"
    )
    assert ledger_integrity_check() == []


def _diff(moved: dict[str, int], expected: dict[str, int]) -> dict[str, str]:
    return {
        k: f"{moved.get(k, 0)} (allowed {expected.get(k, 0)})"
        for k in sorted(set(moved) | set(expected))
        if moved.get(k, 0) != expected.get(k, 0)
    }
