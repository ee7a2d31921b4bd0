"""Query budgets of every console page (issue 34). Walking `admin.site._registry`, so a
screen added later is measured too: each changelist (first page, a search, each filter's
first choice, a sort), one record's change page and every extra page the admin serves for
it (detail and row actions' forms, custom views), and the dashboard. Each page issues at
most `BUDGET` queries, and the same number with three times the rows: a page whose SQL
grows with the table (a foreign key read per row, a dropdown per option) fails here long
before it is slow in production (`bench/scale.py` times the same pages at scale)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.admin.views.main import ORDER_VAR, SEARCH_VAR
from django.db import connection, transaction
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, URLPattern, reverse
from django.utils import timezone

from orders.models import Order
from support.models import Ticket
from tests.console.factories import order_row
from tests.core.test_state_tables import (
    _auto_topup_run,
    _card_refund,
    _delivery,
    _esim,
    _esim_refund,
    _finding,
    _inbound,
    _invoice,
    _provider_refund,
)
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client, fund
from tests.orders.factories import vendor_client as order_vendor_client
from tests.orders.helpers import buy_b2b, buy_b2c, pay
from tests.webhooks.factories import endpoint_for
from ttelgo.models import AuditLog
from vendors.models import Vendor

pytestmark = pytest.mark.django_db

# Per page, whatever the table size: session and user, the page's rows, its count, the
# filters' choices, the sidebar's badges, and the inlines of a record's page.
BUDGET = 20

# Pages of the standard admin that are not a page to read (or read elsewhere here).
SKIPPED_URL_NAMES = ("_changelist", "_add", "_delete", "_change", "_history", "_autocomplete")


def _grow(capture: Any, settings: Any) -> None:
    """One more of everything the console lists, mostly through the real flows: a paid
    customer order, a vendor order with its webhook delivery and ledger postings, an order
    held for review, a ticket, eSIM and provider refunds, a reconciliation finding, audit
    rows, an invoice, inbound events."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    customer = customer_client(UserFactory())
    pay(customer, capture, buy_b2c(customer, capture))
    vendor: Vendor = VendorFactory()  # type: ignore[assignment]
    fund(vendor, 10_000)
    endpoint_for(vendor)
    response = buy_b2b(order_vendor_client(vendor), capture)
    assert response.status_code == 201, response.content
    review = order_row(status=Order.Status.IN_REVIEW, review_reasons=["velocity"])
    _esim(order=review)
    Ticket.objects.create(
        customer=review.customer, order=review, subject="where is my eSIM", status="open"
    )
    _esim_refund("requested")
    _provider_refund("pending")
    _finding("open")
    _delivery("pending")
    _inbound("processed")
    _invoice("open")
    _card_refund("succeeded")
    _auto_topup_run("pending")
    AuditLog.objects.create(
        actor_label="ops@example.com",
        action="order.refund",
        target_type="order",
        target_id=str(review.pk),
        target_repr=str(review),
        reason="customer asked",
        created_at=timezone.now(),
    )


def _count(client: Any, url: str) -> tuple[int, int]:
    """(status, queries) of one GET, its writes (a GET action that acts) rolled back."""
    with transaction.atomic():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        transaction.set_rollback(True)
    return response.status_code, len(ctx.captured_queries)


def _extra_pages(model_admin: Any, record: Any) -> Iterator[str]:
    """The admin's own pages beyond the standard five: action forms and custom views, for
    the record where the route takes one."""
    for pattern in model_admin.get_urls():
        if not isinstance(pattern, URLPattern) or not pattern.name:
            continue
        if pattern.name.endswith(SKIPPED_URL_NAMES):
            continue
        route = str(pattern.pattern)
        converters = re.findall(r"<(?:\w+:)?(\w+)>", route)
        try:
            if not converters:
                yield reverse(f"admin:{pattern.name}")
            elif converters == ["object_id"] and record is not None:
                yield reverse(f"admin:{pattern.name}", kwargs={"object_id": record.pk})
        except NoReverseMatch:
            continue


def _filter_queries(model_admin: Any, user: Any, changelist: str) -> Iterator[str]:
    """Each list filter's first choice (after "All"), as the operator would click it."""
    request = RequestFactory().get(changelist)
    request.user = user
    cl = model_admin.get_changelist_instance(request)
    for spec in cl.filter_specs:
        choices = [c for c in spec.choices(cl) if not c.get("selected")]
        if choices:
            yield choices[0]["query_string"]


def _pages(user: Any) -> list[str]:
    request = RequestFactory().get("/admin/")
    request.user = user
    pages = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        try:
            changelist = reverse(f"{name}_changelist")
        except NoReverseMatch:
            continue
        pages.append(changelist)
        if model_admin.search_fields:
            pages.append(f"{changelist}?{urlencode({SEARCH_VAR: '1'})}")
        pages.extend(
            f"{changelist}{query}" for query in _filter_queries(model_admin, user, changelist)
        )
        pages.append(f"{changelist}?{urlencode({ORDER_VAR: '-1'})}")
        record = model_admin.get_queryset(request).order_by("pk").first()
        if record is not None:
            pages.append(reverse(f"{name}_change", args=[record.pk]))
        pages.extend(_extra_pages(model_admin, record))
    return list(dict.fromkeys(pages))


@pytest.mark.timeout(900)  # some 300 pages on a busy machine
def test_every_console_page_has_a_bounded_query_count_that_does_not_grow_with_rows(
    client, bundles, django_capture_on_commit_callbacks, settings
):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    _grow(django_capture_on_commit_callbacks, settings)
    pages = _pages(user)
    for url in pages:  # what a first visit caches (content types, permissions)
        _count(client, url)
    small = {url: _count(client, url) for url in pages}
    for _ in range(2):  # three times the rows
        _grow(django_capture_on_commit_callbacks, settings)
    large = {url: _count(client, url) for url in pages}

    answered = [url for url, (status, _) in small.items() if status == 200]
    assert len(answered) >= 100, f"only {len(answered)} pages answered"
    broken = {url: status for url, (status, _) in small.items() if status >= 500}
    over = {url: n for url, (status, n) in small.items() if status == 200 and n > BUDGET}
    grows = {url: (small[url][1], n) for url, (_, n) in large.items() if n != small[url][1]}
    assert not (broken or over or grows), (
        f"pages that fail: {broken}; pages over {BUDGET} queries: {over};"
        f" pages whose query count grows with the rows (N -> 3N): {grows}"
    )


# Lookup tables that stay small whatever the business's size: a dropdown of them is fine.
SMALL_TABLES = {
    "auth.Permission",
    "auth.Group",
    "catalogue.Region",
    "catalogue.Country",
    "django_celery_beat.IntervalSchedule",
    "django_celery_beat.CrontabSchedule",
    "django_celery_beat.SolarSchedule",
    "django_celery_beat.ClockedSchedule",
}


def test_no_console_form_offers_a_dropdown_of_a_growing_table(db):
    """A foreign key an operator edits is an autocomplete or raw id field unless it points
    at a small lookup table: a <select> of 10,000 vendors or 50,000 users is one query, but
    megabytes of page."""
    user = UserFactory(is_staff=True, is_superuser=True)
    request = RequestFactory().get("/admin/")
    request.user = user
    dropdowns = []
    for model, model_admin in admin.site._registry.items():
        if not model_admin.has_add_permission(request):
            continue
        form = model_admin.get_form(request, None)
        for name, field in form.base_fields.items():
            related = getattr(field, "queryset", None)
            if related is None or related.model._meta.label in SMALL_TABLES:
                continue
            widget = getattr(field.widget, "widget", field.widget)
            if type(widget).__name__ not in (
                "AutocompleteSelect",
                "AutocompleteSelectMultiple",
            ) and ("RawId" not in type(widget).__name__):
                dropdowns.append(f"{model._meta.label}.{name} -> {related.model._meta.label}")
    assert not dropdowns, dropdowns
