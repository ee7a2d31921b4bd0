"""QR codes for eSIM activation, generated locally (never by a third-party service)."""

from __future__ import annotations

import io
from urllib.parse import quote

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage

APPLE_INSTALL_BASE = "https://esimsetup.apple.com/esim_qrcode_provisioning"


def lpa_string(smdp_address: str, matching_id: str) -> str:
    """GSMA SGP.22 activation code: `LPA:1$<SM-DP+ address>$<matching id>`."""
    if not smdp_address or "$" in smdp_address or "$" in matching_id:
        raise ValueError("an LPA string needs an SM-DP+ address and '$'-free parts")
    return f"LPA:1${smdp_address}${matching_id}"


def _qr(lpa: str) -> qrcode.QRCode:
    # Medium error correction: survives a phone screen's glare and a bit of damage.
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(lpa)
    qr.make(fit=True)
    return qr


def qr_png(lpa: str) -> bytes:
    buf = io.BytesIO()
    _qr(lpa).make_image().save(buf, format="PNG")
    return buf.getvalue()


def qr_svg(lpa: str) -> bytes:
    buf = io.BytesIO()
    _qr(lpa).make_image(image_factory=SvgPathImage).save(buf)
    return buf.getvalue()


def apple_install_url(lpa: str) -> str:
    """iOS 17.4+ one-tap install link."""
    return f"{APPLE_INSTALL_BASE}?carddata={quote(lpa, safe='')}"
