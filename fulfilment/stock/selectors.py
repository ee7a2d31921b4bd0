"""Reads of the ready stock for the console's stock page: per bundle and mode, what is free
now, how old it is, what it ties up, how it sells, and what is on its way. A few grouped
queries for the whole page, not one per row."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone

from fulfilment.stock.ageing import stock_age_cutoff
from fulfilment.stock.models import StockBatch, StockEsim

K = StockEsim.Status
# Age buckets of free stock (days since purchase); the last runs to the ageing cutoff.
AGE_BUCKETS = (7, 30)


@dataclass
class StockProfile:
    available: int = 0
    tied: int = 0  # minor units held in inventory: free stock and stock being given back
    currency: str = ""
    ages: list[int] = field(default_factory=lambda: [0] * (len(AGE_BUCKETS) + 1))
    due_back: int = 0  # free eSIMs the next ageing run gives back
    sold: int = 0  # sold in the last STOCK_LEVELS_SALES_DAYS days
    coming: int = 0  # in batches planned, not bought yet
    ended: int = 0  # given back or written off, in all

    @property
    def sell_through(self) -> float | None:
        """Of the eSIMs that were in stock over the sales window, the share sold."""
        seen = self.sold + self.available
        return self.sold / seen if seen else None

    def age_text(self) -> str:
        labels = [f"< {AGE_BUCKETS[0]} d"]
        labels += [f"{a}-{b} d" for a, b in pairwise(AGE_BUCKETS)]
        labels.append(f"> {AGE_BUCKETS[-1]} d")
        text = ", ".join(f"{label}: {n}" for label, n in zip(labels, self.ages, strict=True))
        return f"{text}; {self.due_back} due back" if self.due_back else text


def stock_profiles() -> dict[tuple[str, bool], StockProfile]:
    """(bundle code, livemode) -> its stock profile, for every bundle with stock rows or
    batches."""
    now = timezone.now()
    profiles: dict[tuple[str, bool], StockProfile] = defaultdict(StockProfile)
    edges = [now - timedelta(days=d) for d in AGE_BUCKETS]
    cutoff = stock_age_cutoff(now)
    since = now - timedelta(days=max(1, int(settings.STOCK_LEVELS_SALES_DAYS)))
    free = Q(status=K.AVAILABLE)
    aggregates = {
        "available": Count("id", filter=free),
        "tied": Sum("cost_amount", filter=Q(status__in=[K.AVAILABLE, K.REVOKING])),
        "due_back": Count("id", filter=free & Q(purchased_at__lte=cutoff)),
        "sold": Count("id", filter=Q(status=K.SOLD, sold_at__gte=since)),
        "ended": Count("id", filter=Q(status__in=[K.REVOKED, K.WRITTEN_OFF])),
        "young": Count("id", filter=free & Q(purchased_at__gt=edges[0])),
        "old": Count("id", filter=free & Q(purchased_at__lte=edges[-1])),
    }
    rows = (
        StockEsim.objects.order_by()
        .values("bundle_code", "livemode", "currency")
        .annotate(**aggregates)
    )
    for row in rows:
        p = profiles[(row["bundle_code"], row["livemode"])]
        p.currency = p.currency or row["currency"]
        p.available += row["available"]
        p.tied += int(row["tied"] or 0)
        p.due_back += row["due_back"]
        p.sold += row["sold"]
        p.ended += row["ended"]
        middle = row["available"] - row["young"] - row["old"]
        p.ages = [p.ages[0] + row["young"], p.ages[1] + middle, p.ages[2] + row["old"]]
    coming = (
        StockBatch.objects.filter(status=StockBatch.Status.PLANNED)
        .order_by()
        .values("bundle_code", "livemode")
        .annotate(n=Sum("quantity"))
    )
    for row in coming:
        profiles[(row["bundle_code"], row["livemode"])].coming += int(row["n"] or 0)
    return dict(profiles)
