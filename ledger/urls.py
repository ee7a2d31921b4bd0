"""The ledger has no endpoints of its own: the vendor API (vendors app) serves balances,
statements and invoices through `ledger.selectors`."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
