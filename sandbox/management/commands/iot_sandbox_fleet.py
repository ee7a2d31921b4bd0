"""Give a vendor's test environment a simulated IoT fleet:
`manage.py iot_sandbox_fleet --vendor 12 --size 50` (the live vendor's id; its test
environment is made if it has none)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from sandbox.iot import sandbox_iot_fleet_create
from vendors.models import Vendor
from vendors.services import vendor_test_environment


class Command(BaseCommand):
    help = "Create simulated IoT SIMs for a vendor's test environment."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--vendor", type=int, required=True)
        parser.add_argument("--size", type=int, default=20)

    def handle(self, *args: Any, **options: Any) -> None:
        vendor = Vendor.objects.filter(pk=options["vendor"]).first()
        if vendor is None:
            raise CommandError("no such vendor")
        if vendor.livemode:
            vendor, _ = vendor_test_environment(vendor=vendor)
        sims = sandbox_iot_fleet_create(vendor=vendor, size=options["size"])
        self.stdout.write(f"{len(sims)} simulated SIM(s) for {vendor}")
