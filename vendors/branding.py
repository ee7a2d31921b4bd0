"""A vendor's brand (white label): set by the vendor through the API or by operators,
read wherever its end customers see something of ours (the eSIM's page)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from ttelgo.audit import audit_record
from ttelgo.errors import DomainError
from vendors.lock_objects import vendor_brand_qs_select_for_update
from vendors.models import Vendor, VendorBrand

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
FIELDS = (
    "display_name",
    "logo_url",
    "primary_color",
    "support_email",
    "support_url",
    "topup_url",
    "sender_name",
)


@dataclass(frozen=True)
class Brand:
    """What a page shows as its maker: a vendor's brand, or the platform's own."""

    name: str
    logo_url: str
    primary_color: str
    text_on_primary: str
    support_email: str
    support_url: str
    white_label: bool
    topup_url: str = ""
    sender_name: str = ""  # the From name of emails to its customers


def text_colour_on(background: str) -> str:
    """Black or white, whichever reads better on `background` (WCAG relative luminance)."""

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(background[i : i + 2]) for i in (1, 3, 5))
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    # Contrast with white is (1.05)/(L+0.05); with black (L+0.05)/0.05: take the larger.
    return "#000000" if (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) else "#ffffff"


def brand_validate(values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    colour = values.get("primary_color")
    if colour is not None and not HEX_COLOUR.match(colour):
        errors["primary_color"] = ["A colour as #rrggbb."]
    for field in ("logo_url", "support_url", "topup_url"):
        url = values.get(field)
        if url and not str(url).startswith("https://"):
            errors[field] = ["An https:// address."]
    name = values.get("display_name")
    if name is not None and not str(name).strip():
        errors["display_name"] = ["Required."]
    if errors:
        raise DomainError("validation_error", "The brand is not valid.", details=errors)


def vendor_brand_set(*, vendor: Vendor, actor: Any = None, **values: Any) -> VendorBrand:
    """Create or change the vendor's brand with the given fields (others stay)."""
    values = {k: v for k, v in values.items() if k in FIELDS}
    brand_validate(values)
    with transaction.atomic():
        brand = vendor_brand_qs_select_for_update().filter(vendor=vendor).first()
        if brand is None:
            if not values.get("display_name"):
                raise DomainError(
                    "validation_error",
                    "The brand needs a name.",
                    details={"display_name": ["Required."]},
                )
            brand = VendorBrand(vendor=vendor)
        before = {f: getattr(brand, f) for f in FIELDS} if brand.pk else {}
        for field, value in values.items():
            setattr(brand, field, value.strip() if isinstance(value, str) else value)
        brand.full_clean(exclude=["vendor"])
        brand.save()
        audit_record(
            actor=actor or f"vendor:{vendor.pk}",
            action="vendor.brand_set",
            target=vendor,
            before=before,
            after={f: getattr(brand, f) for f in FIELDS},
        )
    return brand


def platform_brand() -> Brand:
    return Brand(
        name="TTelGo",
        logo_url="",
        primary_color="#2563eb",
        text_on_primary="#ffffff",
        support_email="",
        support_url="",
        white_label=False,
    )


def brand_for(vendor: Vendor | None) -> Brand:
    """The brand a vendor's end customers see; the platform's own for customers and for
    a vendor that set none (then the vendor's contact email is the help address)."""
    if vendor is None:
        return platform_brand()
    brand = VendorBrand.objects.filter(vendor=vendor).first()
    if brand is None:
        return Brand(
            name=vendor.name,
            logo_url="",
            primary_color="#2563eb",
            text_on_primary="#ffffff",
            support_email=vendor.contact_email,
            support_url="",
            white_label=True,
            sender_name=vendor.name,
        )
    return Brand(
        name=brand.display_name,
        logo_url=brand.logo_url,
        primary_color=brand.primary_color,
        text_on_primary=text_colour_on(brand.primary_color),
        support_email=brand.support_email or vendor.contact_email,
        support_url=brand.support_url,
        white_label=True,
        topup_url=brand.topup_url,
        sender_name=brand.sender_name or brand.display_name,
    )
