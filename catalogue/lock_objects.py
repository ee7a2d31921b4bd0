"""Row locks on bundles: every `select_for_update` on a bundle goes through here
(Saleor's `lock_objects`). `FOR NO KEY UPDATE`: prices change, keys never."""

from __future__ import annotations

from django.db.models import QuerySet

from catalogue.models import Bundle, BundleOffer


def bundle_qs_select_for_update() -> QuerySet[Bundle]:
    return Bundle.objects.select_for_update(no_key=True)


def bundle_offer_qs_select_for_update() -> QuerySet[BundleOffer]:
    """Another provider's offers for our bundles, locked while a sync rewrites them."""
    return BundleOffer.objects.select_for_update()
