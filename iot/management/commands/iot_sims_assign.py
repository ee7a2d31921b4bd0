"""Give synced IoT SIMs to a vendor: `manage.py iot_sims_assign --vendor 12 ICCID ...`
(or `--unassigned N` for the first N SIMs nobody has). Only SIMs of the vendor's mode
(live or test) and not another vendor's are taken; it prints how many."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from iot.services import sims_assign
from vendors.models import Vendor


class Command(BaseCommand):
    help = "Give IoT SIMs to a vendor."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--vendor", type=int, required=True)
        parser.add_argument("--unassigned", type=int, default=0)
        parser.add_argument("iccids", nargs="*")

    def handle(self, *args: Any, **options: Any) -> None:
        vendor = Vendor.objects.filter(pk=options["vendor"]).first()
        if vendor is None:
            raise CommandError("no such vendor")
        count = sims_assign(
            vendor=vendor, iccids=options["iccids"], unassigned=options["unassigned"]
        )
        self.stdout.write(f"{count} SIM(s) assigned to {vendor}")
