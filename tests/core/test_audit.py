import pytest
from django.db import DatabaseError, connection, transaction

from tests.factories import UserFactory, VendorFactory
from ttelgo.audit import audit_record, snapshot
from ttelgo.models import AuditLog

pytestmark = pytest.mark.django_db


def test_audit_record_keeps_who_what_before_after():
    operator = UserFactory(is_staff=True)
    vendor = VendorFactory(credit_limit=0)
    before = snapshot(vendor, ["credit_limit", "status"])
    row = audit_record(
        actor=operator,
        action="vendor.credit_limit_change",
        target=vendor,
        before=before,
        after={"credit_limit": 50000, "status": "active"},
        reason="raised after review",
    )
    row.refresh_from_db()
    assert row.actor == operator
    assert row.actor_label == operator.email
    assert row.target_type == "vendors.vendor"
    assert row.target_id == str(vendor.pk)
    assert row.before == {"credit_limit": 0, "status": "active"}
    assert row.after["credit_limit"] == 50000


def test_system_and_label_actors():
    assert audit_record(actor=None, action="x").actor_label == "system"
    assert audit_record(actor="vendor:7", action="x").actor_label == "vendor:7"


def test_rows_cannot_be_changed_through_the_orm():
    row = audit_record(actor=None, action="x")
    row.reason = "rewritten"
    with pytest.raises(ValueError):
        row.save()


@pytest.mark.postgres
def test_database_refuses_update_and_delete_of_audit_rows():
    row = audit_record(actor=None, action="ledger.adjustment", reason="original")
    for sql in (
        "UPDATE ttelgo_auditlog SET reason = 'forged' WHERE id = %s",
        "DELETE FROM ttelgo_auditlog WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [row.pk])
    assert AuditLog.objects.get(pk=row.pk).reason == "original"
