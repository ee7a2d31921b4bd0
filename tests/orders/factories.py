"""Orders test helpers: a sellable sandbox bundle, vendor clients, funded wallets."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from billing import services as ledger
from catalogue.models import Bundle
from ttelgo.money import Money
from vendors.models import Vendor, VendorAPIKey

# Real codes of the sandbox provider's catalogue, so the sandbox can sell them.
BUNDLE_CODE = "esim_1GB_7D_GB_V2"
TOPUP_CODE = "esim_2GB_7D_GB_V2"
RETAIL = {BUNDLE_CODE: 450, TOPUP_CODE: 650}
COST = {BUNDLE_CODE: 139, TOPUP_CODE: 253}
DATA_MB = {BUNDLE_CODE: 1000, TOPUP_CODE: 2000}


def bundles_create() -> dict[str, Bundle]:
    return {
        code: Bundle.objects.create(
            code=code,
            provider="sandbox",
            provider_description=f"{code} description",
            data_mb=DATA_MB[code],
            validity_days=7,
            cost_amount=COST[code],
            retail_amount=RETAIL[code],
            currency="USD",
        )
        for code in (BUNDLE_CODE, TOPUP_CODE)
    }


def customer_client(user: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    client.user = user  # type: ignore[attr-defined]
    return client


def vendor_client(vendor: Vendor) -> APIClient:
    _, key = VendorAPIKey.objects.create_key(vendor=vendor, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    client.vendor = vendor  # type: ignore[attr-defined]
    return client


def fund(vendor: Vendor, cents: int) -> None:
    ledger.vendor_wallet_topup_credit(
        vendor=vendor, amount=Money(cents, "USD"), reference=f"test-topup:{vendor.pk}:{cents}"
    )


def credit_line(vendor: Vendor, cents: int) -> None:
    Vendor.objects.filter(pk=vendor.pk).update(credit_limit=cents)
    vendor.refresh_from_db()
    ledger.vendor_credit_limit_set(vendor=vendor, limit=Money(cents, "USD"))
