"""The lint step that forbids importing another app inside a function."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _checker():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("local_imports", ROOT / ".ci/local_imports.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_function_importing_another_app_is_reported(tmp_path, monkeypatch):
    checker = _checker()
    monkeypatch.setattr(checker, "ROOT", tmp_path)
    source = tmp_path / "orders" / "thing.py"
    source.parent.mkdir()
    source.write_text(
        "from orders.models import Order\n\n"
        "def f():\n"
        "    from billing.services import vendor_order_reserve\n"
        "    from orders.state import order_transition\n"
        "    import payments.models\n"
    )
    found = checker.local_cross_app_imports(source, "orders", {"orders", "billing", "payments"})
    assert found == [
        "orders/thing.py:4: imports billing.services",
        "orders/thing.py:6: imports payments.models",
    ]


def test_the_project_has_none():
    assert _checker().main() == 0
