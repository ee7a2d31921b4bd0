"""`manage.py vendor_create --name N --billing prepaid|postpaid [--credit-limit 1000.00]
[--approve]`: creates a vendor and prints a fresh API key on the last line."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ttelgo.errors import DomainError
from ttelgo.money import Money
from vendors.services import api_key_issue, vendor_create


class Command(BaseCommand):
    help = "Create a vendor and print a fresh API key on the last line."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--billing", required=True, choices=["prepaid", "postpaid"])
        parser.add_argument("--credit-limit", help="decimal, e.g. 1000.00 (postpaid)")
        parser.add_argument("--currency", default=settings.DEFAULT_CURRENCY)
        parser.add_argument("--email", default="", help="contact email")
        parser.add_argument("--approve", action="store_true", help="make it active at once")

    def handle(self, *args: Any, **options: Any) -> None:
        currency = options["currency"].upper()
        limit = None
        if options["credit_limit"]:
            try:
                limit = Money.from_decimal(options["credit_limit"], currency)
            except ValueError as exc:
                raise CommandError(f"--credit-limit: {exc}") from None
        try:
            vendor = vendor_create(
                name=options["name"],
                billing_mode=options["billing"],
                currency=currency,
                credit_limit=limit,
                contact_email=options["email"],
                approve=options["approve"],
            )
            _, key = api_key_issue(vendor=vendor, name="created by vendor_create")
        except DomainError as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from None
        self.stdout.write(
            f"Vendor #{vendor.pk} {vendor.name} ({vendor.status}, {vendor.billing_mode})"
        )
        self.stdout.write(key)
