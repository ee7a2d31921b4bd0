"""Every `select_for_update` on an app's rows goes through that app's `lock_objects.py`
(README, "One lock helper per app"): a row lock written anywhere else fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "billing",
    "catalogue",
    "console",
    "fulfilment",
    "ledger",
    "orders",
    "payments",
    "portal",
    "providers",
    "reconciliation",
    "sandbox",
    "support",
    "ttelgo",
    "vendors",
    "webhooks",
]
# simplejwt's token table, locked by the token refresh endpoint: not a model of ours.
ELSEWHERE = {"ttelgo/api.py"}


def test_rows_are_locked_only_through_their_apps_lock_helpers() -> None:
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if path.name == "lock_objects.py" or "/migrations/" in relative:
                continue
            if relative in ELSEWHERE:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"\.select_for_update\(", line):
                    found.append(f"{relative}:{number}: {line.strip()}")
    assert found == []


def test_each_lock_helper_locks_only_its_own_apps_models() -> None:
    helpers = sorted(ROOT.glob("*/lock_objects.py"))
    assert len(helpers) >= 8
    for path in helpers:
        for line in path.read_text().splitlines():
            if line.startswith("from ") and not line.startswith(("from __future__", "from django")):
                assert line.split()[1].split(".")[0] == path.parent.name, (path, line)
