"""A VAT number validator for `make run` and tests: no network, deterministic. A number
is valid unless it starts with "000" (say, "NL000000000B00" is the invalid one)."""

from __future__ import annotations

from ttelgo.tax import VatCheck, vat_number_shape_ok


class SandboxVatValidator:
    def check(self, *, country: str, vat_number: str) -> VatCheck:
        valid = vat_number_shape_ok(vat_number) and not vat_number.startswith("000")
        return VatCheck(
            valid=valid, name=f"Sandbox business {country}{vat_number}" if valid else ""
        )
