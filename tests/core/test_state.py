"""One state-machine shape for every status column (ttelgo/state.py): the tables, the
compare-and-set move, and the admin asking the same table the services use."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from orders.models import Order
from orders.state import ORDER_STATES
from payments.models import Payment
from payments.services import PAYMENT_STATES
from tests.factories import UserFactory, VendorFactory
from ttelgo.errors import DomainError
from ttelgo.models import AuditLog
from ttelgo.state import StateTable, transition
from vendors import services as vendor_services
from vendors.models import Vendor
from vendors.services import VENDOR_STATES

V = Vendor.Status


def test_a_table_answers_moves_actions_and_terminal_states():
    table = StateTable.of(
        "Thing", {"a": {"b"}, "b": {"c"}, "c": set()}, actions={"finish": {"a", "b"}}
    )
    assert table.can("a", "b") and not table.can("a", "c") and not table.can("zzz", "a")
    assert table.may("finish", "b") and not table.may("finish", "c")
    assert table.terminal == frozenset({"c"})


def test_every_status_table_names_only_statuses_of_its_column():
    for table, choices in (
        (ORDER_STATES, Order.Status.values),
        (VENDOR_STATES, Vendor.Status.values),
        (PAYMENT_STATES, Payment.Status.values),
    ):
        assert set(table.allowed) == set(choices), table.name
        for targets in table.allowed.values():
            assert targets <= set(choices)
        for starts in table.actions.values():
            assert starts <= set(choices)


@pytest.mark.django_db
def test_a_move_the_table_refuses_changes_nothing():
    vendor = VendorFactory(status=V.PENDING)
    with pytest.raises(DomainError) as caught:
        transition(Vendor, pk=vendor.pk, table=VENDOR_STATES, to=V.SUSPENDED)
    assert caught.value.code == "invalid_state"
    assert caught.value.details == {"status": "pending", "requested": "suspended"}
    vendor.refresh_from_db()
    assert vendor.status == V.PENDING


@pytest.mark.django_db
def test_an_action_starts_only_where_its_table_says():
    vendor = VendorFactory(status=V.SUSPENDED)
    # suspended -> active is a move the table allows, but not by approving
    with pytest.raises(DomainError, match="Cannot approve a vendor that is suspended"):
        vendor_services.vendor_approve(vendor=vendor, actor=None)
    vendor_services.vendor_reactivate(vendor=vendor, actor=None)
    vendor.refresh_from_db()
    assert vendor.status == V.ACTIVE


@pytest.mark.django_db
def test_a_vendor_status_action_leaves_an_audit_row_and_a_history_entry():
    operator = UserFactory(is_staff=True)
    vendor = VendorFactory(status=V.ACTIVE)
    before = vendor.history.count()
    vendor_services.vendor_suspend(vendor=vendor, actor=operator, reason="chargebacks")
    vendor.refresh_from_db()
    assert (vendor.status, vendor.status_reason) == (V.SUSPENDED, "chargebacks")
    entry = vendor.history.first()
    assert vendor.history.count() == before + 1
    assert (entry.status, entry.history_user_id) == (V.SUSPENDED, operator.pk)
    audit = AuditLog.objects.get(action="vendor.suspend")
    assert audit.before["status"] == "active" and audit.after["status"] == "suspended"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_operators_suspending_one_vendor_at_once_only_one_wins():
    """Two suspensions race on real PostgreSQL connections: the compare-and-set lets
    exactly one through; the other gets invalid_state and writes nothing (one audit row,
    one history entry)."""
    for _ in range(5):
        vendor = VendorFactory(status=V.ACTIVE)
        history_before = vendor.history.count()
        barrier = threading.Barrier(3)
        outcomes: list[str] = []

        def suspend(
            vendor_id: int = vendor.pk,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            try:
                target = Vendor.objects.get(pk=vendor_id)
                barrier.wait()
                vendor_services.vendor_suspend(vendor=target, actor=None, reason="race")
                outcomes.append("won")
            except DomainError as exc:
                outcomes.append(exc.code)
            finally:
                connection.close()

        threads = [threading.Thread(target=suspend) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["invalid_state", "invalid_state", "won"]
        vendor.refresh_from_db()
        assert vendor.status == V.SUSPENDED
        audits = AuditLog.objects.filter(target_id=str(vendor.pk), action="vendor.suspend")
        assert audits.count() == 1
        assert vendor.history.count() == history_before + 1
