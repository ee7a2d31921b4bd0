from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from catalogue.models import Bundle, PriceRule
from catalogue.pricing import minimum_price
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_sync_now_asks_first_and_changes_nothing_on_a_get(operator_client):
    resp = operator_client.get(reverse("admin:catalogue_bundle_sync_now"))
    assert resp.status_code == 200
    assert b'method="post"' in resp.content
    assert Bundle.objects.count() == 0


def test_sync_now_queues_the_sync_and_the_list_follows_it(
    operator_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        resp = operator_client.post(reverse("admin:catalogue_bundle_sync_now"))
    # The click returns at once: the sync runs on a worker.
    assert resp.status_code == 302
    [message] = [str(m) for m in get_messages(resp.wsgi_request)]
    assert message.startswith("Sync started")
    assert Bundle.objects.count() == 0
    listing = operator_client.get(reverse("admin:catalogue_bundle_changelist")).content.decode()
    assert "Catalogue sync queued" in listing and 'id="sync-refresh"' in listing

    for callback in sent:
        callback()  # the worker's turn
    total = Bundle.objects.count()
    assert total > 0
    listing = operator_client.get(reverse("admin:catalogue_bundle_changelist")).content.decode()
    assert "Last catalogue sync done" in listing and f"{total} created" in listing
    assert 'id="sync-refresh"' not in listing


def test_admin_pages_render_and_a_rule_change_reprices(operator_client, synced_catalogue):
    bundle = Bundle.objects.order_by("code").first()
    for url in (
        reverse("admin:catalogue_bundle_changelist"),
        reverse("admin:catalogue_bundle_change", args=[bundle.pk]),
        reverse("admin:catalogue_pricerule_add"),
        reverse("admin:catalogue_country_changelist"),
    ):
        assert operator_client.get(url).status_code == 200, url
    resp = operator_client.post(
        reverse("admin:catalogue_pricerule_add"),
        {
            "scope": "global",
            "markup_bps": "0",
            "rounding": "none",
            "min_margin_bps": "0",
            "active": "on",
        },
    )
    assert resp.status_code == 302, resp.content[:2000]
    assert PriceRule.objects.count() == 1
    bundle.refresh_from_db()
    assert bundle.retail_amount == minimum_price(bundle.cost_amount)


def test_override_edit_in_admin_is_kept(operator_client, synced_catalogue):
    bundle = Bundle.objects.order_by("code").first()
    resp = operator_client.post(
        reverse("admin:catalogue_bundle_change", args=[bundle.pk]),
        {
            "display_name": "Spring special",
            "description": "Ours",
            "featured": "on",
            "price_history-TOTAL_FORMS": "0",
            "price_history-INITIAL_FORMS": "0",
        },
    )
    assert resp.status_code == 302, resp.content[:2000]
    bundle.refresh_from_db()
    assert (bundle.display_name, bundle.featured, bundle.hidden) == ("Spring special", True, False)


def test_seed_demo_line(db):
    from io import StringIO

    from catalogue.demo import seed_demo

    [line] = seed_demo(StringIO())
    assert line == f"Catalogue: {Bundle.objects.count()} bundles in 70 countries"


def test_sync_now_reports_a_provider_outage_without_changing_anything(operator_client):
    from sandbox.provider import SandboxFaults, sandbox_faults_set

    sandbox_faults_set(SandboxFaults(mode="503"))
    from catalogue.tasks import catalogue_sync

    with pytest.raises(Exception):
        catalogue_sync.apply(throw=True)
    listing = operator_client.get(reverse("admin:catalogue_bundle_changelist")).content.decode()
    assert "Last catalogue sync failed" in listing and "sandbox: unavailable" in listing
    assert Bundle.objects.count() == 0


def test_the_old_admin_urls_redirect_to_the_catalogues(operator_client):
    resp = operator_client.get("/admin/esims/bundle/?hidden__exact=1")
    assert resp.status_code == 302
    assert resp["Location"] == "/admin/catalogue/bundle/?hidden__exact=1"
    assert operator_client.get(resp["Location"]).status_code == 200
