"""The sandbox's catalogue: generated deterministically so every run, process and test sees
the same bundles. Wholesale prices follow believable per-GB rates by region."""

from __future__ import annotations

import hashlib
from functools import cache

from providers.base import ProviderBundle, ProviderCountry
from ttelgo.money import Money

# (iso, name, region, price per GB in cents)
COUNTRIES: list[tuple[str, str, str, int]] = [
    ("GB", "United Kingdom", "Europe", 120),
    ("FR", "France", "Europe", 110),
    ("DE", "Germany", "Europe", 110),
    ("ES", "Spain", "Europe", 105),
    ("IT", "Italy", "Europe", 110),
    ("PT", "Portugal", "Europe", 100),
    ("NL", "Netherlands", "Europe", 115),
    ("BE", "Belgium", "Europe", 115),
    ("IE", "Ireland", "Europe", 120),
    ("AT", "Austria", "Europe", 115),
    ("CH", "Switzerland", "Europe", 250),
    ("SE", "Sweden", "Europe", 125),
    ("NO", "Norway", "Europe", 180),
    ("DK", "Denmark", "Europe", 125),
    ("FI", "Finland", "Europe", 125),
    ("PL", "Poland", "Europe", 95),
    ("CZ", "Czechia", "Europe", 100),
    ("GR", "Greece", "Europe", 110),
    ("HR", "Croatia", "Europe", 105),
    ("HU", "Hungary", "Europe", 100),
    ("RO", "Romania", "Europe", 95),
    ("IS", "Iceland", "Europe", 210),
    ("TR", "Turkey", "Europe", 160),
    ("US", "United States", "North America", 190),
    ("CA", "Canada", "North America", 260),
    ("MX", "Mexico", "North America", 200),
    ("BR", "Brazil", "South America", 240),
    ("AR", "Argentina", "South America", 260),
    ("CL", "Chile", "South America", 250),
    ("CO", "Colombia", "South America", 230),
    ("PE", "Peru", "South America", 240),
    ("JP", "Japan", "Asia", 150),
    ("KR", "South Korea", "Asia", 160),
    ("CN", "China", "Asia", 210),
    ("HK", "Hong Kong", "Asia", 140),
    ("TW", "Taiwan", "Asia", 150),
    ("SG", "Singapore", "Asia", 130),
    ("MY", "Malaysia", "Asia", 110),
    ("TH", "Thailand", "Asia", 100),
    ("VN", "Vietnam", "Asia", 105),
    ("ID", "Indonesia", "Asia", 120),
    ("PH", "Philippines", "Asia", 130),
    ("IN", "India", "Asia", 140),
    ("LK", "Sri Lanka", "Asia", 170),
    ("NP", "Nepal", "Asia", 220),
    ("KH", "Cambodia", "Asia", 150),
    ("AE", "United Arab Emirates", "Middle East", 280),
    ("SA", "Saudi Arabia", "Middle East", 300),
    ("QA", "Qatar", "Middle East", 290),
    ("IL", "Israel", "Middle East", 180),
    ("JO", "Jordan", "Middle East", 240),
    ("OM", "Oman", "Middle East", 300),
    ("EG", "Egypt", "Africa", 230),
    ("MA", "Morocco", "Africa", 220),
    ("ZA", "South Africa", "Africa", 260),
    ("KE", "Kenya", "Africa", 280),
    ("TZ", "Tanzania", "Africa", 300),
    ("NG", "Nigeria", "Africa", 320),
    ("GH", "Ghana", "Africa", 310),
    ("TN", "Tunisia", "Africa", 240),
    ("AU", "Australia", "Oceania", 170),
    ("NZ", "New Zealand", "Oceania", 180),
    ("FJ", "Fiji", "Oceania", 350),
    ("CR", "Costa Rica", "North America", 260),
    ("DO", "Dominican Republic", "North America", 270),
    ("PA", "Panama", "North America", 260),
    ("UY", "Uruguay", "South America", 250),
    ("EC", "Ecuador", "South America", 250),
    ("GE", "Georgia", "Europe", 140),
    ("AL", "Albania", "Europe", 150),
]

# (GB, days) combinations; each country gets four of them (picked by a stable hash).
PLANS: list[tuple[int, int]] = [
    (1, 7),
    (3, 15),
    (5, 30),
    (10, 30),
    (20, 30),
    (50, 90),
    (2, 7),
    (15, 30),
]
UNLIMITED_DAYS = (1, 3, 7, 15)

REGIONAL: list[tuple[str, str, list[str]]] = [
    ("EU", "Europe", [c[0] for c in COUNTRIES if c[2] == "Europe"]),
    ("AS", "Asia", [c[0] for c in COUNTRIES if c[2] == "Asia"]),
    ("NA", "North America", [c[0] for c in COUNTRIES if c[2] == "North America"]),
    ("SA", "South America", [c[0] for c in COUNTRIES if c[2] == "South America"]),
    ("ME", "Middle East", [c[0] for c in COUNTRIES if c[2] == "Middle East"]),
    ("AF", "Africa", [c[0] for c in COUNTRIES if c[2] == "Africa"]),
    ("OC", "Oceania", [c[0] for c in COUNTRIES if c[2] == "Oceania"]),
]
GLOBAL_ISOS = [c[0] for c in COUNTRIES]


def _stable(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def _price(per_gb_cents: int, gb: int, days: int) -> int:
    # Bigger bundles are cheaper per GB; longer validity costs a little more.
    per_gb = per_gb_cents * (100 - min(45, gb * 3 // 2)) // 100
    return max(99, per_gb * gb + days * 3)


def _unlimited_price(per_gb_cents: int, days: int) -> int:
    return per_gb_cents * 2 * days + 150


@cache
def build_catalogue(currency: str = "USD") -> tuple[ProviderBundle, ...]:
    """Built once per process; the bundles are frozen dataclasses."""
    by_iso = {iso: ProviderCountry(iso, name, region) for iso, name, region, _ in COUNTRIES}
    rate = {iso: per_gb for iso, _, _, per_gb in COUNTRIES}
    bundles: list[ProviderBundle] = []
    for iso, name, _region, per_gb in COUNTRIES:
        start = _stable("plans", iso) % len(PLANS)
        for gb, days in [PLANS[(start + i) % len(PLANS)] for i in range(4)]:
            bundles.append(
                ProviderBundle(
                    code=f"esim_{gb}GB_{days}D_{iso}_V2",
                    description=f"{name} {gb}GB {days} days",
                    countries=(by_iso[iso],),
                    data_mb=gb * 1000,
                    unlimited=False,
                    validity_days=days,
                    cost=Money(_price(per_gb, gb, days), currency),
                )
            )
        if _stable("unl", iso) % 3 == 0:
            days = UNLIMITED_DAYS[_stable("unl-days", iso) % len(UNLIMITED_DAYS)]
            bundles.append(
                ProviderBundle(
                    code=f"esim_UL_{days}D_{iso}_V2",
                    description=f"{name} Unlimited {days} days",
                    countries=(by_iso[iso],),
                    data_mb=0,
                    unlimited=True,
                    validity_days=days,
                    cost=Money(_unlimited_price(per_gb, days), currency),
                )
            )
    groups = [*REGIONAL, ("GLOBAL", "Global", GLOBAL_ISOS)]
    for suffix, label, isos in groups:
        avg = sum(rate[i] for i in isos) // len(isos) + (80 if suffix == "GLOBAL" else 30)
        for gb, days in [(1, 7), (3, 15), (5, 30), (10, 30), (20, 30)]:
            bundles.append(
                ProviderBundle(
                    code=f"esim_{gb}GB_{days}D_R{suffix}_V2",
                    description=f"{label} {gb}GB {days} days, {len(isos)} countries",
                    countries=tuple(by_iso[i] for i in isos),
                    data_mb=gb * 1000,
                    unlimited=False,
                    validity_days=days,
                    cost=Money(_price(avg, gb, days), currency),
                )
            )
    return tuple(bundles)
