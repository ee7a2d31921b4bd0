"""Fill a database through the services of the code in the current directory (the base
commit of an upgrade test): vendors, orders of every kind, a refund, an invoice, webhook
deliveries and reconciliation findings. Run with cwd = that commit's checkout."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from importlib import import_module

sys.path.insert(0, os.getcwd())  # the checkout's packages, not the installed ones
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

from django.conf import settings  # noqa: E402

settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the API is called in-process

import time_machine  # noqa: E402
from django.core.management import call_command  # noqa: E402

from tests.factories import UserFactory, VendorFactory  # noqa: E402
from tests.orders.factories import (  # noqa: E402
    BUNDLE_CODE,
    bundles_create,
    credit_line,
    customer_client,
    fund,
    vendor_client,
)


def first(*paths: str):
    """The first of these dotted names that exists in this checkout."""
    for path in paths:
        module, _, name = path.rpartition(".")
        # Only this checkout's modules: the installed project may know newer packages.
        top = module.split(".")[0]
        if not os.path.isdir(os.path.join(os.getcwd(), top)):
            continue
        try:
            return getattr(import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"none of {paths}")


def main() -> None:
    call_command("migrate", "--noinput", verbosity=0)
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", password="upgrade-test-pass", stdout=quiet)  # noqa: S106
    Bundle = first("catalogue.models.Bundle", "esims.models.Bundle")
    if not Bundle.objects.filter(code=BUNDLE_CODE).exists():  # the demo catalogue has it
        bundles_create()
    operator = UserFactory(is_staff=True, is_superuser=True)
    endpoint_create = first("webhooks.services.endpoint_create")

    with time_machine.travel(datetime(2026, 9, 10, 12, tzinfo=UTC), tick=True):
        prepaid = VendorFactory()
        fund(prepaid, 500_00)
        endpoint_create(
            vendor=prepaid, url="https://93.184.215.14/hooks", events=["order.completed"]
        )
        api = vendor_client(prepaid)
        orders = []
        for i in range(4):
            r = api.post(
                "/api/v1/vendor/orders",
                {"bundle_code": BUNDLE_CODE, "quantity": 1 + i % 2},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"upgrade-{i}",
            )
            assert r.status_code == 201, r.content
            orders.append(r.json())
        refund = first(
            "fulfilment.operator.operator_order_refund", "orders.operator.operator_order_refund"
        )
        refund(order_id=orders[0]["id"], actor=operator, amount=None, reason="upgrade test")
        esims = api.get(f"/api/v1/vendor/orders/{orders[1]['id']}").json().get("esims") or []
        if esims:
            api.post(
                f"/api/v1/vendor/esims/{esims[0]['iccid']}/topups",
                {"bundle_code": BUNDLE_CODE},
                format="json",
                HTTP_IDEMPOTENCY_KEY="upgrade-topup",
            )
        # Rows of the models that moved from orders to fulfilment besides eSIMs: an auto
        # top-up rule and a refund request of an unused eSIM (where the base has them: an
        # older base answers 404 and leaves those tables empty).
        more = api.get(f"/api/v1/vendor/orders/{orders[2]['id']}").json().get("esims") or []
        if more:
            rule = api.post(
                "/api/v1/vendor/auto-topups",
                {"iccid": more[0]["iccid"], "bundle_code": BUNDLE_CODE, "below_percent": 20},
                format="json",
                HTTP_IDEMPOTENCY_KEY="upgrade-auto-topup",
            )
            asked = api.post(
                f"/api/v1/vendor/esims/{more[0]['iccid']}/refund",
                {"reason": "upgrade test"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="upgrade-esim-refund",
            )
            print(f"auto top-up rule: {rule.status_code}, eSIM refund: {asked.status_code}")

        postpaid = VendorFactory(billing_mode="postpaid")
        credit_line(postpaid, 300_00)
        papi = vendor_client(postpaid)
        for i in range(2):
            r = papi.post(
                "/api/v1/vendor/orders",
                {"bundle_code": BUNDLE_CODE, "quantity": 1},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"upgrade-post-{i}",
            )
            assert r.status_code == 201, r.content

        customer = UserFactory()
        r = customer_client(customer).post(
            "/api/v1/orders",
            {"bundle_code": BUNDLE_CODE, "quantity": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY="upgrade-b2c",
        )
        assert r.status_code == 201, r.content

    with time_machine.travel(datetime(2026, 10, 2, 12, tzinfo=UTC), tick=True):
        close = first(
            "billing.invoicing.invoice_close_month",
            "billing.services.invoice_close_month",
            "ledger.services.invoice_close_month",
        )
        close(vendor=postpaid, year=2026, month=9)
        run = first(
            "reconciliation.services.reconciliation_run", "ledger.reconciliation.reconciliation_run"
        )
        run()
    print("filled")


if __name__ == "__main__":
    main()
