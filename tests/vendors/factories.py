"""Vendor-side test helpers: vendors with keys and clients that send them."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.factories import VendorFactory
from vendors.models import Vendor
from vendors.services import api_key_issue


def vendor_with_key(**kwargs) -> tuple[Vendor, str]:
    vendor: Vendor = VendorFactory(**kwargs)  # type: ignore[assignment]
    _, key = api_key_issue(vendor=vendor, name="test")
    return vendor, key


def key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def vendor_client(**kwargs) -> APIClient:
    """An APIClient authenticated as a new vendor (`client.vendor`, `client.key`)."""
    vendor, key = vendor_with_key(**kwargs)
    client = key_client(key)
    client.vendor = vendor  # type: ignore[attr-defined]
    client.key = key  # type: ignore[attr-defined]
    return client
