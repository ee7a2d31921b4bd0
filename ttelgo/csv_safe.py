"""CSV exports that a spreadsheet opens without running anything: a text cell starting
with `=`, `+`, `-`, `@`, a tab or a carriage return is read as a formula by Excel, Sheets
and LibreOffice (CSV injection), so it gets a leading apostrophe. Apply it to text that
came from outside (names, descriptions, provider and Stripe ids), not to the numbers we
format ourselves (a negative amount must stay a number)."""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> str:
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in FORMULA_PREFIXES else text
