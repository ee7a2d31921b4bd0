"""A second provider's packages become offers of the equivalent products (same countries,
data and validity), never new products or new prices; the cheapest equivalent wins."""

from __future__ import annotations

import pytest

from catalogue.models import Bundle, BundleOffer, Country
from catalogue.services import catalogue_offers_sync
from providers import ProviderBundle
from providers.base import ProviderCountry
from ttelgo.money import Money

pytestmark = pytest.mark.django_db

GB = ProviderCountry("GB", "United Kingdom", "")


class Listing:
    name = "airalo"

    def __init__(self, bundles: list[ProviderBundle]) -> None:
        self.bundles = bundles

    def list_bundles(self) -> list[ProviderBundle]:
        return self.bundles


def package(code: str, *, mb: int = 1024, days: int = 7, cost: int = 120, countries=(GB,)):
    return ProviderBundle(
        code, code, tuple(countries), mb, False, days, Money(cost, "USD"), Money(450, "USD")
    )


@pytest.fixture
def product() -> Bundle:
    country = Country.objects.create(iso="GB", name="United Kingdom")
    bundle = Bundle.objects.create(
        code="esim_1GB_7D_GB_V2",
        provider="esimgo",
        data_mb=1000,
        validity_days=7,
        cost_amount=139,
        retail_amount=450,
        currency="USD",
    )
    bundle.countries.set([country])
    return bundle


def test_equivalent_packages_become_offers_of_our_product(product):
    result = catalogue_offers_sync(
        provider=Listing(
            [
                package("change-7days-1gb", cost=130),
                package("other-7days-1gb", cost=120),  # cheaper: the offer
                package("change-30days-1gb", days=30),  # no such product
                package("fr-7days-1gb", countries=(ProviderCountry("FR", "France", ""),)),
            ]
        )
    )
    assert (result.matched, result.unmatched, result.deactivated) == (1, 2, 0)
    (offer,) = BundleOffer.objects.all()
    assert (offer.bundle_id, offer.provider, offer.provider_code, offer.cost_amount) == (
        product.pk,
        "airalo",
        "other-7days-1gb",
        120,
    )
    product.refresh_from_db()
    assert (product.code, product.retail_amount, product.cost_amount) == (
        "esim_1GB_7D_GB_V2",
        450,
        139,
    )
    assert Bundle.objects.count() == 1


def test_running_twice_changes_nothing_and_a_dropped_package_is_deactivated(product):
    listing = Listing([package("change-7days-1gb")])
    catalogue_offers_sync(provider=listing)
    again = catalogue_offers_sync(provider=listing)
    assert (again.matched, again.deactivated) == (1, 0)
    assert BundleOffer.objects.count() == 1
    gone = catalogue_offers_sync(provider=Listing([]))
    assert gone.deactivated == 1
    assert not BundleOffer.objects.get().is_active
