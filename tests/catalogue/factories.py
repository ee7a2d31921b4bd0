"""Catalogue factories and a provider whose catalogue a test can edit."""

from __future__ import annotations

import factory

from catalogue.models import Bundle, Country, PriceRule, Region
from providers.base import ProviderBundle, ProviderCountry
from sandbox.provider import SandboxProvider
from ttelgo.money import Money


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"region-{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())


class CountryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Country
        django_get_or_create = ("iso",)

    iso = factory.Sequence(lambda n: f"{chr(65 + n // 26 % 26)}{chr(65 + n % 26)}")
    name = factory.LazyAttribute(lambda o: f"Country {o.iso}")
    region = factory.SubFactory(RegionFactory)


class BundleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bundle
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"esim_test_{n}")
    provider_description = factory.LazyAttribute(lambda o: f"Test bundle {o.code}")
    data_mb = 1000
    validity_days = 7
    cost_amount = 500
    retail_amount = 799
    currency = "USD"

    @factory.post_generation
    def countries(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.countries.set(extracted)


class PriceRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceRule

    scope = PriceRule.Scope.GLOBAL
    markup_bps = 5000
    rounding = PriceRule.Rounding.NONE


def pbundle(
    code: str,
    *,
    isos: tuple[str, ...] = ("GB",),
    region: str = "Europe",
    data_mb: int = 1000,
    unlimited: bool = False,
    days: int = 7,
    cost: int = 500,
    description: str = "",
) -> ProviderBundle:
    return ProviderBundle(
        code=code,
        description=description or f"{code} description",
        countries=tuple(ProviderCountry(iso, f"Country {iso}", region) for iso in isos),
        data_mb=0 if unlimited else data_mb,
        unlimited=unlimited,
        validity_days=days,
        cost=Money(cost, "USD"),
    )


class EditableCatalogueProvider(SandboxProvider):
    """The sandbox with a catalogue the test controls."""

    def __init__(self, bundles: list[ProviderBundle]) -> None:
        super().__init__()
        self.bundles = list(bundles)

    def list_bundles(self) -> list[ProviderBundle]:
        return list(self.bundles)
