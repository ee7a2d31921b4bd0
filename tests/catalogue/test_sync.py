from __future__ import annotations

from dataclasses import replace

import pytest
from django.db.models import F

from catalogue.models import Bundle, BundlePriceHistory, Country, Region
from catalogue.selectors import bundle_get_sellable
from catalogue.services import bundle_overrides_update, catalogue_sync
from providers.base import ProviderCountry
from ttelgo.errors import DomainError

from .factories import EditableCatalogueProvider, pbundle

pytestmark = pytest.mark.django_db


def test_sandbox_sync_creates_the_whole_catalogue(synced_catalogue):
    assert synced_catalogue.created == Bundle.objects.count() >= 150
    assert synced_catalogue.countries == Country.objects.count() >= 60
    assert synced_catalogue.updated == synced_catalogue.deactivated == 0
    assert Region.objects.filter(code="global").exists()
    # every retail price is above cost and recorded once in the price history
    assert not Bundle.objects.filter(retail_amount__lte=F("cost_amount")).exists()
    assert BundlePriceHistory.objects.count() == Bundle.objects.count()


def test_sync_run_twice_changes_nothing(synced_catalogue):
    before = list(Bundle.objects.order_by("code").values_list("code", "retail_amount", "is_active"))
    history = BundlePriceHistory.objects.count()
    again = catalogue_sync()
    assert (again.created, again.updated, again.deactivated) == (0, 0, 0)
    assert again.unchanged == len(before)
    assert (
        list(Bundle.objects.order_by("code").values_list("code", "retail_amount", "is_active"))
        == before
    )
    assert BundlePriceHistory.objects.count() == history


def test_vanished_bundle_stops_being_sold_and_returns_when_offered_again():
    provider = EditableCatalogueProvider([pbundle("keep"), pbundle("gone")])
    catalogue_sync(provider=provider)
    provider.bundles = [pbundle("keep")]
    result = catalogue_sync(provider=provider)
    assert (result.deactivated, result.unchanged) == (1, 1)
    gone = Bundle.objects.get(code="gone")
    assert not gone.is_active and gone.deactivated_at is not None
    with pytest.raises(DomainError) as err:
        bundle_get_sellable(code="gone")
    assert err.value.code == "bundle_unavailable"

    provider.bundles = [pbundle("keep"), pbundle("gone")]
    result = catalogue_sync(provider=provider)
    assert result.updated == 1
    assert bundle_get_sellable(code="gone").is_active


def test_operator_overrides_survive_a_sync_that_changes_provider_data():
    provider = EditableCatalogueProvider([pbundle("b1", cost=500, description="old text")])
    catalogue_sync(provider=provider)
    bundle = Bundle.objects.get(code="b1")
    bundle_overrides_update(
        bundle=bundle, display_name="UK Traveller", description="Ours", hidden=True, featured=True
    )
    provider.bundles = [pbundle("b1", cost=650, description="new text", days=10)]
    result = catalogue_sync(provider=provider)
    assert result.updated == 1
    bundle.refresh_from_db()
    assert (bundle.display_name, bundle.description, bundle.hidden, bundle.featured) == (
        "UK Traveller",
        "Ours",
        True,
        True,
    )
    assert (bundle.provider_description, bundle.cost_amount, bundle.validity_days) == (
        "new text",
        650,
        10,
    )
    # cost change is one new price-history row
    assert list(bundle.price_history.order_by("id").values_list("cost_amount", flat=True)) == [
        500,
        650,
    ]


def test_sync_maps_regions_for_single_regional_and_global_bundles():
    provider = EditableCatalogueProvider(
        [
            pbundle("one", isos=("FR",), region="Europe"),
            pbundle("eu", isos=("FR", "DE"), region="Europe"),
        ]
    )
    world = pbundle("world", isos=("FR",))
    provider.bundles.append(
        replace(
            world,
            countries=(*world.countries, ProviderCountry("US", "United States", "North America")),
        )
    )
    catalogue_sync(provider=provider)
    assert Bundle.objects.get(code="one").region.code == "europe"
    assert Bundle.objects.get(code="world").region.code == "global"
    assert Country.objects.get(iso="US").region.code == "north-america"
    assert Bundle.objects.get(code="eu").region.code == "europe"
    assert sorted(Bundle.objects.get(code="eu").countries.values_list("iso", flat=True)) == [
        "DE",
        "FR",
    ]


def test_unknown_bundle_code_is_not_found():
    with pytest.raises(DomainError) as err:
        bundle_get_sellable(code="nope")
    assert err.value.code == "not_found"


def test_sync_task_runs_the_service(db):
    from catalogue.tasks import catalogue_sync as task

    counts = task.delay().get()  # eager in tests
    assert counts["created"] >= 150
    assert counts["deactivated"] == 0


def test_sync_from_esimgo_walks_pages_and_maps_fields(monkeypatch):
    import uuid

    import responses

    from providers import esimgo
    from providers.esimgo import EsimGoProvider, build_breaker

    base = "https://api.esim-go.test/v2.4"
    monkeypatch.setattr(esimgo, "CATALOGUE_PAGE_SIZE", 1)

    def item(name: str, iso: str, price: str) -> dict:
        return {
            "name": name, "description": f"{name} desc", "dataAmount": 3000, "duration": 15,
            "unlimited": False, "price": price,
            "countries": [{"name": f"Land {iso}", "region": "Asia", "iso": iso}],
        }  # fmt: skip

    provider = EsimGoProvider(
        api_key="k",
        base_url=base,
        sleep=lambda s: None,
        breaker=build_breaker(name=uuid.uuid4().hex, fail_max=5, reset_timeout=60, redis_url=""),
    )
    with responses.RequestsMock() as mock:
        for page, body in enumerate(
            [
                {"bundles": [item("esim_3GB_15D_JP_V2", "JP", "4.10")], "pageCount": 2},
                {"bundles": [item("esim_3GB_15D_TH_V2", "TH", "3.20")], "pageCount": 2},
            ],
            start=1,
        ):
            mock.get(
                f"{base}/catalogue",
                json=body,
                match=[responses.matchers.query_param_matcher({"page": str(page), "perPage": "1"})],
            )
        result = catalogue_sync(provider=provider)
    assert (result.created, result.countries) == (2, 2)
    jp = Bundle.objects.get(code="esim_3GB_15D_JP_V2")
    assert (jp.provider, jp.cost_amount, jp.data_mb, jp.region.code) == (
        "esimgo",
        410,
        3000,
        "asia",
    )
