from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree

import pytest
import zxingcpp
from PIL import Image

from catalogue.qr import apple_install_url, lpa_string, qr_png, qr_svg

LPA = "LPA:1$rsp.sandbox-smdp.ttelgo.net$1A2B3-C4D5E-F6789-0ABCD"


def test_lpa_string_follows_the_gsma_format():
    assert lpa_string("rsp.sandbox-smdp.ttelgo.net", "1A2B3-C4D5E-F6789-0ABCD") == LPA
    with pytest.raises(ValueError):
        lpa_string("", "x")
    with pytest.raises(ValueError):
        lpa_string("rsp.example", "bad$id")


def test_png_decodes_back_to_the_lpa_string():
    png = qr_png(LPA)
    assert png.startswith(b"\x89PNG")
    [result] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert result.text == LPA


def test_svg_is_an_svg_document():
    svg = qr_svg(LPA)
    root = ElementTree.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag.endswith("svg")
    assert root.find(".//{http://www.w3.org/2000/svg}path") is not None


def test_apple_install_url_carries_the_lpa():
    url = apple_install_url(LPA)
    parsed = urlparse(url)
    assert (parsed.scheme, parsed.netloc, parsed.path) == (
        "https",
        "esimsetup.apple.com",
        "/esim_qrcode_provisioning",
    )
    assert parse_qs(parsed.query)["carddata"] == [LPA]
