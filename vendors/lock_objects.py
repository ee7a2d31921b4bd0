"""Row locks on vendors and their keys, brands and invitations: every `select_for_update`
on them goes through here (Saleor's `lock_objects`), from this app or from another one
(webhooks lock the vendor to count its endpoints). A vendor and its API keys are locked
`FOR NO KEY UPDATE`; `of=("self",)` keeps a `select_related` join unlocked."""

from __future__ import annotations

from django.db.models import QuerySet

from vendors.models import Vendor, VendorAPIKey, VendorBrand, VendorInvitation


def vendor_qs_select_for_update() -> QuerySet[Vendor]:
    return Vendor.objects.select_for_update(no_key=True)


def vendor_api_key_qs_select_for_update() -> QuerySet[VendorAPIKey]:
    return VendorAPIKey.objects.select_for_update(no_key=True)


def vendor_brand_qs_select_for_update() -> QuerySet[VendorBrand]:
    return VendorBrand.objects.select_for_update()


def vendor_invitation_qs_select_for_update(
    *, of: tuple[str, ...] = ()
) -> QuerySet[VendorInvitation]:
    return VendorInvitation.objects.select_for_update(of=of)
