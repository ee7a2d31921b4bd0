"""Routing: which provider delivers a sale, in which order the others are tried.

A bundle is our product, sold under its code at one price; it may be delivered by its own
provider (its `provider` and `code`) or by any active `BundleOffer` of another provider.
The routes of a sale are those of the enabled providers (`settings.ESIM_PROVIDERS`, less
`ESIM_PROVIDERS_DRAINED` and those an operator drained in the admin: `ProviderRule`), in
this order:

1. offers an operator ranked (`BundleOffer.priority`, lower first), then
2. offers of providers an operator ranked (`ProviderRule.priority`, lower first), then
3. the others by our margin, best first (one retail price, so the lowest cost), ties in
   the order of `ESIM_PROVIDERS`.

Provisioning tries them in turn: a provider that cannot deliver now without having bought
(our breaker open, operator maintenance, out of stock, no credit: `skip_provider`) passes
the sale to the next. A test-mode order only ever goes to the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from catalogue.models import Bundle, BundleOffer, ProviderRule
from providers import Provider, get_provider


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    code: str  # the provider's own code for the product
    cost_amount: int  # minor units
    currency: str
    reason: str  # "priority" | "margin" | "only"


def provider_rules() -> dict[str, tuple[int | None, bool]]:
    """The operators' rules per provider: (priority, drained)."""
    return {
        str(name): (priority, bool(drained))
        for name, priority, drained in ProviderRule.objects.values_list(
            "provider", "priority", "drained"
        )
    }


def enabled_providers(rules: dict[str, tuple[int | None, bool]] | None = None) -> list[str]:
    """The providers new live orders may go to: configured, drained by neither the
    settings nor an operator."""
    rules = provider_rules() if rules is None else rules
    drained = set(settings.ESIM_PROVIDERS_DRAINED) | {p for p, (_, d) in rules.items() if d}
    return [p for p in settings.ESIM_PROVIDERS if p not in drained]


def routes_for(*, bundle_code: str, livemode: bool) -> list[Route]:
    """The routes of a sale of `bundle_code`, best first (module docstring)."""
    bundle = (
        Bundle.objects.filter(code=bundle_code)
        .values("provider", "code", "cost_amount", "currency")
        .first()
    )
    if not livemode or bundle is None:
        # Test mode, or a code the catalogue no longer has: its own provider, as before.
        own = str(bundle["provider"]) if bundle is not None else settings.ESIM_PROVIDER
        cost = int(bundle["cost_amount"]) if bundle is not None else 0
        return [Route(own if livemode else "sandbox", bundle_code, cost, "", "only")]
    rules = provider_rules()
    enabled = enabled_providers(rules)
    # The bundle's own provider; bundles synced under another name (a catalogue from the
    # sandbox, then ESIM_PROVIDER changed) are delivered by the configured one, as before.
    own = bundle["provider"] if bundle["provider"] in enabled else settings.ESIM_PROVIDER
    candidates: list[tuple[int | None, str, str, int, str]] = [
        (None, own, bundle["code"], bundle["cost_amount"], bundle["currency"])
    ]
    for offer in BundleOffer.objects.filter(bundle__code=bundle_code, is_active=True).values(
        "priority", "provider", "provider_code", "cost_amount", "currency"
    ):
        if offer["provider"] == own:
            candidates[0] = (offer["priority"], *candidates[0][1:])  # a rank for the own one
            continue
        candidates.append(
            (
                offer["priority"],
                offer["provider"],
                offer["provider_code"],
                offer["cost_amount"],
                offer["currency"],
            )
        )
    usable = [c for c in candidates if c[1] in enabled and c[4] == bundle["currency"]]

    def ranked(c: tuple[int | None, str, str, int, str]) -> int | None:
        return rules.get(c[1], (None, False))[0]

    usable.sort(
        key=lambda c: (
            c[0] is None,
            c[0] if c[0] is not None else 0,
            ranked(c) is None,
            ranked(c) or 0,
            c[3],
            enabled.index(c[1]),
        )
    )
    if len(usable) == 1:
        return [Route(usable[0][1], usable[0][2], usable[0][3], usable[0][4], "only")]
    return [
        Route(
            c[1],
            c[2],
            c[3],
            c[4],
            "priority" if c[0] is not None or ranked(c) is not None else "margin",
        )
        for c in usable
    ]


def route_code(*, bundle_code: str, provider: str) -> str:
    """The provider's code for our product (ours when it is the bundle's own provider)."""
    offer = (
        BundleOffer.objects.filter(bundle__code=bundle_code, provider=provider)
        .values_list("provider_code", flat=True)
        .first()
    )
    return offer or bundle_code


def client_for(name: str, livemode: bool, get: Callable[..., Provider] = get_provider) -> Provider:
    """The provider client `name`. The configured default is fetched as `get(livemode)`,
    the way it always was: callers pass their module's `get_provider`."""
    if not livemode or not name or name == settings.ESIM_PROVIDER:
        return get(livemode)
    return get(livemode, name=name)


def esim_provider(iccid: str) -> str:
    """The provider that issued the eSIM (top-ups, usage and refunds go to it); empty for
    one we do not know or issued before orders recorded their provider (the default). An
    eSIM sold from stock was issued by the provider its stock row was bought from, not
    by the one its order names (an order sold from stock is placed with no provider)."""
    from fulfilment.models import Esim

    row = (
        Esim.objects.filter(iccid=iccid)
        .values_list("stock_origin__provider", "order__provider")
        .first()
    )
    if row is None:
        return ""
    return str(row[0] or row[1] or "")
