"""Support tickets: customers and vendors open them (about their own order or eSIM only),
add to them and read the answers; operators answer in the console and the requester is
emailed; nobody sees another's tickets."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from fulfilment.models import Esim
from support.models import Ticket
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client, fund, vendor_client
from tests.orders.helpers import buy_b2b, post
from ttelgo.models import AuditLog

pytestmark = pytest.mark.django_db


def test_a_vendor_asks_about_its_esim_and_reads_the_answer(
    bundles, django_capture_on_commit_callbacks, settings
):
    settings.SUPPORT_EMAIL = "support@ttelgo.example"
    vendor = VendorFactory(contact_email="ops@vendor.example")
    fund(vendor, 10_000)
    api = vendor_client(vendor)
    order_id = buy_b2b(api, django_capture_on_commit_callbacks).json()["id"]
    iccid = Esim.objects.get(order_id=order_id).iccid
    with django_capture_on_commit_callbacks(execute=True):
        created = post(
            api,
            "/api/v1/vendor/tickets",
            {"subject": "No data", "body": "In Lisbon", "iccid": iccid},
        )
    assert created.status_code == 201, created.content
    ticket = created.json()
    assert (ticket["status"], ticket["order_id"], ticket["iccid"]) == ("open", order_id, iccid)
    assert mail.outbox[-1].to == ["support@ttelgo.example"]

    client = Client()
    client.force_login(operator("support"))
    url = f"/admin/support/ticket/{ticket['id']}/answer/"
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        answered = client.post(url, {"body": "Turn on data roaming, please."})
    assert answered.status_code == 302
    assert mail.outbox[-1].to == ["ops@vendor.example"]
    assert "data roaming" in mail.outbox[-1].body
    assert AuditLog.objects.filter(action="ticket.answer").count() == 1

    read = api.get(f"/api/v1/vendor/tickets/{ticket['id']}").json()
    assert read["status"] == "answered"
    assert [m["author"] for m in read["messages"]] == ["requester", "operator"]
    more = post(api, f"/api/v1/vendor/tickets/{ticket['id']}/messages", {"body": "Works now"})
    assert more.status_code == 201 and more.json()["status"] == "open"


def test_nobody_reaches_anothers_tickets_orders_or_esims(
    bundles, django_capture_on_commit_callbacks
):
    owner = VendorFactory()
    fund(owner, 10_000)
    api = vendor_client(owner)
    order_id = buy_b2b(api, django_capture_on_commit_callbacks).json()["id"]
    ticket_id = post(api, "/api/v1/vendor/tickets", {"subject": "s", "body": "b"}).json()["id"]
    stranger = vendor_client(VendorFactory())
    assert stranger.get(f"/api/v1/vendor/tickets/{ticket_id}").status_code == 404
    assert stranger.get("/api/v1/vendor/tickets").json()["results"] == []
    foreign = post(
        stranger, "/api/v1/vendor/tickets", {"subject": "s", "body": "b", "order_id": order_id}
    )
    assert foreign.status_code == 400
    customer = customer_client(UserFactory())
    assert customer.get(f"/api/v1/tickets/{ticket_id}").status_code == 404
    assert Ticket.objects.count() == 1


def test_a_customer_opens_a_ticket_and_a_closed_one_takes_no_more(db):
    customer = customer_client(UserFactory())
    ticket = post(customer, "/api/v1/tickets", {"subject": "Refund?", "body": "Can I?"}).json()
    assert ticket["status"] == "open"
    Ticket.objects.filter(pk=ticket["id"]).update(status=Ticket.Status.CLOSED)
    closed = post(customer, f"/api/v1/tickets/{ticket['id']}/messages", {"body": "Hello?"})
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "invalid_state"
    assert post(customer, "/api/v1/tickets", {"subject": "", "body": "x"}).status_code == 400


def test_a_reply_to_a_ticket_closed_meanwhile_is_refused_and_adds_nothing(db):
    """The requester's reply moves the ticket back to open by compare-and-set
    (support/state.py): one an operator closed since the requester read it stays closed,
    and the reply (its message) is refused, not half-recorded."""
    from support.models import TicketMessage
    from support.services import operator_ticket_answer, ticket_reply_by_requester
    from ttelgo.errors import DomainError

    customer = customer_client(UserFactory())
    opened = post(customer, "/api/v1/tickets", {"subject": "Refund?", "body": "Can I?"}).json()
    read = Ticket.objects.get(pk=opened["id"])  # what the reply was written against
    operator_ticket_answer(ticket_id=read.pk, actor=operator("support"), body="Yes.", close=True)
    messages = TicketMessage.objects.filter(ticket_id=read.pk).count()
    with pytest.raises(DomainError) as caught:
        ticket_reply_by_requester(ticket=read, body="Thanks, and one more thing")
    assert caught.value.code == "invalid_state"
    read.refresh_from_db()
    assert read.status == Ticket.Status.CLOSED
    assert TicketMessage.objects.filter(ticket_id=read.pk).count() == messages
