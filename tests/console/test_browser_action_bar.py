"""Browser check of the vendor list's action bar: the inputs an action reads (reason,
credit limit, tier) can be seen on the bar, measured on the computed colours."""

from __future__ import annotations

from typing import Any

import pytest

from tests.console.factories import OPERATOR_PASSWORD, operator
from tests.factories import VendorFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Each colour the browser computed (oklch, rgb, transparent) drawn on a canvas and read
# back as RGBA; an input's own background is composited over the bar's.
MEASURE = """
const canvas = document.createElement('canvas');
canvas.width = canvas.height = 1;
const ctx = canvas.getContext('2d', {willReadFrequently: true});
function rgba(colour) {
  ctx.clearRect(0, 0, 1, 1);
  ctx.fillStyle = '#000';
  ctx.fillStyle = colour;
  ctx.fillRect(0, 0, 1, 1);
  const d = ctx.getImageData(0, 0, 1, 1).data;
  return [d[0], d[1], d[2], d[3] / 255];
}
function opaqueBackground(el) {
  const layers = [];
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) layers.push(c);
    if (c[3] >= 1) break;
  }
  let out = [255, 255, 255];
  for (const c of layers.reverse()) {
    out = [0, 1, 2].map(i => c[i] * c[3] + out[i] * (1 - c[3]));
  }
  return out;
}
const bar = document.querySelector('#changelist-actions > div');
return Array.from(bar.querySelectorAll('input:not([type=hidden]), select')).filter(
  el => el.name !== 'action' && el.name !== 'select_across' && el.name !== 'index'
).map(el => {
  const s = getComputedStyle(el);
  const border = rgba(s.borderTopColor);
  return {
    name: el.name,
    visible: el.offsetWidth > 0 && el.offsetHeight > 0,
    text: rgba(s.color).slice(0, 3),
    box: opaqueBackground(el),
    bar: opaqueBackground(bar),
    border: parseFloat(s.borderTopWidth) > 0 && border[3] > 0 ? border.slice(0, 3) : null,
  };
});
"""


def _luminance(rgb: list[float]) -> float:
    def channel(c: float) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    """WCAG 2 contrast ratio of two opaque colours."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_the_vendor_lists_action_inputs_stand_out_on_the_action_bar(console: Any) -> None:
    VendorFactory(name="Roam Partners")
    user = operator("admin")
    console.login(user.email, OPERATOR_PASSWORD)
    console.open("/admin/vendors/vendor/")
    console.click("input.action-select")  # the bar shows once a row is selected
    console.wait_css("#changelist-actions")
    inputs = {row["name"]: row for row in console.driver.execute_script(MEASURE)}
    assert {"reason", "credit_limit", "tier"} <= set(inputs), inputs
    for name, row in inputs.items():
        assert row["visible"], name
        # The box is told apart from the bar (WCAG 1.4.11: 3:1 for a component's edge):
        # by its own background, or by a border.
        edge = max(
            contrast(row["box"], row["bar"]),
            contrast(row["border"], row["bar"]) if row["border"] else 1.0,
        )
        assert edge >= 3, (name, row, edge)
        # What is typed in it reads as text (WCAG 1.4.3: 4.5:1).
        assert contrast(row["text"], row["box"]) >= 4.5, (name, row)
