"""Demo data for the embedded default (`make run`). Safe to run again.

Each app contributes through its own services; this command only orchestrates them and
prints where to log in.
"""

from __future__ import annotations

import secrets
from importlib import import_module
from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from ttelgo.models import User

OPERATOR_EMAIL = "operator@ttelgo.local"
DEMO_CUSTOMER_EMAIL = "customer@ttelgo.local"

# Apps that have demo data expose `seed_demo(stdout) -> list[str]` in `<app>/demo.py`;
# the returned lines are printed in the summary.
DEMO_MODULES = ["catalogue.demo", "billing.demo", "portal.demo", "fulfilment.stock.demo"]


class Command(BaseCommand):
    help = "Load demo data and (re)set the operator's password, printing how to log in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--password", help="operator password (default: a fresh one)")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options.get("password") or secrets.token_urlsafe(12)
        with transaction.atomic():
            operator, _ = User.objects.get_or_create(
                email=OPERATOR_EMAIL, defaults={"is_staff": True, "is_superuser": True}
            )
            operator.is_staff = operator.is_superuser = True
            operator.set_password(password)
            operator.save()
            customer, created = User.objects.get_or_create(email=DEMO_CUSTOMER_EMAIL)
            if created:
                customer.set_password("demo-customer-pass")
                customer.save()

        lines: list[str] = []
        for module_name in DEMO_MODULES:
            module = import_module(module_name)
            lines.extend(module.seed_demo(self.stdout))

        out = self.stdout.write
        out("")
        out(self.style.SUCCESS("TTelGo is ready (embedded default: SQLite, sandboxes)."))
        out("  API docs:        http://127.0.0.1:8000/api/docs/")
        out("  Operator admin:  http://127.0.0.1:8000/admin/")
        out(f"    email:         {OPERATOR_EMAIL}")
        out(f"    password:      {password}")
        out(f"  Demo customer:   {DEMO_CUSTOMER_EMAIL} / demo-customer-pass")
        for line in lines:
            out(f"  {line}")
        out("")
