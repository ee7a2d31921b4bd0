"""A ticket's round trip: opened from the eSIM's page (in the traveller's language),
answered by an operator in the console (emailed with a signed reply address and a reply
link), and the reply by email threaded back into the ticket; forged addresses, a wrong
secret and a replayed email change nothing. Internal notes never reach the requester."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from fulfilment.links import esim_page_token
from fulfilment.models import Esim
from support.admin import sla_text
from support.models import Ticket, TicketMessage
from support.services import ticket_link_token, ticket_reply_address
from tests.console.factories import operator
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client, fund, vendor_client
from tests.orders.helpers import buy_b2b, buy_b2c, pay

pytestmark = pytest.mark.django_db
SECRET = "inbound-secret-1"


@pytest.fixture
def customer_esim(bundles, django_capture_on_commit_callbacks):
    user = UserFactory(email="traveller@example.com")
    client = customer_client(user)
    order = buy_b2c(client, django_capture_on_commit_callbacks)
    pay(client, django_capture_on_commit_callbacks, order)
    return Esim.objects.get(order_id=order["id"])


def _inbound(body: dict, secret: str = SECRET):
    return Client().post(
        "/api/v1/webhooks/inbound-email",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )


def test_opened_on_the_page_answered_and_replied_to_by_email(
    customer_esim, settings, django_capture_on_commit_callbacks
):
    settings.INBOUND_EMAIL_SECRET = SECRET
    settings.SUPPORT_EMAIL = "support@ttelgo.example"
    token = esim_page_token(customer_esim)
    page = Client()
    with django_capture_on_commit_callbacks(execute=True):
        sent = page.post(
            f"/e/{token}/help?lang=es", {"message": "No tengo datos en Lisboa, ayuda."}
        )
    assert sent.status_code == 302 and sent["Location"].endswith("help=sent#help")
    ticket = Ticket.objects.get()
    assert ticket.customer == customer_esim.order.customer and ticket.iccid == customer_esim.iccid
    assert ticket.language == "es" and ticket.subject == f"Ayuda con la eSIM {customer_esim.iccid}"
    assert ticket.messages.get().via == TicketMessage.Via.PAGE
    assert ["support@ttelgo.example"] in [m.to for m in mail.outbox]
    thanks = page.get(sent["Location"]).content.decode()
    assert "Gracias: hemos recibido tu mensaje" in thanks

    console = Client()
    console.force_login(operator("support"))
    note = console.post(
        f"/admin/support/ticket/{ticket.pk}/note/", {"body": "Customer in PT, check roaming"}
    )
    assert note.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        console.post(f"/admin/support/ticket/{ticket.pk}/answer/", {"body": "Activa el roaming."})
    answer = mail.outbox[-1]
    assert answer.to == ["traveller@example.com"]
    assert answer.subject == f"Re: {ticket.subject} (consulta n.º {ticket.pk})"
    assert answer.reply_to == [ticket_reply_address(ticket)]
    assert "Responde a este correo o en esta página" in answer.body
    assert f"/t/{ticket_link_token(ticket)}" in answer.body
    assert "check roaming" not in answer.body  # the note stays inside
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED and ticket.waiting_since is None

    reply = {
        "From": "traveller@example.com",
        "To": f"Soporte <{ticket_reply_address(ticket)}>",
        "TextBody": "Funciona, gracias.\n\nEl lun, 30 nov escribió:\n> Activa el roaming.",
        "MessageID": "<abc@mail.example>",
    }
    with django_capture_on_commit_callbacks(execute=True):
        received = _inbound(reply)
    assert received.status_code == 200 and received.json() == {
        "ticket_id": ticket.pk,
        "added": True,
    }
    assert _inbound(reply).json()["added"] is False  # the same email again
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN and ticket.waiting_since is not None
    last = ticket.messages.order_by("-id").first()
    assert (last.body, last.via) == ("Funciona, gracias.", TicketMessage.Via.EMAIL)
    assert ticket.messages.filter(via=TicketMessage.Via.EMAIL).count() == 1

    # The customer's API shows the conversation without the internal note.
    api = customer_client(customer_esim.order.customer)
    messages = api.get(f"/api/v1/tickets/{ticket.pk}").json()["messages"]
    assert [m["author"] for m in messages] == ["requester", "operator", "requester"]


def test_forged_addresses_wrong_secrets_and_empty_replies_change_nothing(customer_esim, settings):
    settings.INBOUND_EMAIL_SECRET = SECRET
    ticket = Ticket.objects.create(
        customer=customer_esim.order.customer, subject="s", waiting_since=timezone.now()
    )
    address = ticket_reply_address(ticket)
    forged = address.replace(f"+{ticket.pk}-", f"+{ticket.pk + 1}-")
    body = {"To": address, "TextBody": "hello there"}
    assert _inbound({**body, "To": forged}).status_code == 404
    assert _inbound({**body, "To": "ticket+1-zz@x"}).status_code == 404
    assert _inbound(body, secret="wrong").status_code == 401
    assert _inbound({**body, "TextBody": "> only a quote"}).status_code == 400
    settings.INBOUND_EMAIL_SECRET = ""
    assert _inbound(body, secret="").status_code == 401  # no secret set: refuse everything
    assert TicketMessage.objects.count() == 0


def test_the_reply_link_shows_the_conversation_and_takes_a_reply(customer_esim):
    ticket = Ticket.objects.create(
        customer=customer_esim.order.customer, subject="Roaming", language="fr"
    )
    TicketMessage.objects.create(ticket=ticket, author="operator", body="Activez le roaming.")
    TicketMessage.objects.create(ticket=ticket, author="note", body="internal only")
    url = f"/t/{ticket_link_token(ticket)}"
    page = Client().get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "Activez le roaming." in html
    assert "internal only" not in html and "Votre réponse" in html
    assert Client().post(url, {"body": ""}).status_code == 400
    sent = Client().post(url, {"body": "Merci, ça marche."})
    assert sent.status_code == 302
    assert ticket.messages.filter(author="requester", via="page").get().body == "Merci, ça marche."
    assert Client().get(url[:-3] + "xyz").status_code == 404


def test_the_page_form_refuses_short_messages_and_floods(customer_esim):
    help_url = f"/e/{esim_page_token(customer_esim)}/help"
    assert Client().post(help_url, {"message": "short"})["Location"].endswith("help=error#help")
    for _ in range(5):
        Client().post(help_url, {"message": "Still no data at all here."})
    flooded = Client().post(help_url, {"message": "Still no data at all here."})
    assert flooded["Location"].endswith("help=error#help")
    assert Ticket.objects.count() == 5
    assert Client().get(help_url).status_code == 405
    assert Client().post("/e/forged/help", {"message": "x" * 20}).status_code == 404


def test_a_vendors_end_customer_is_sent_to_the_vendor(bundles, django_capture_on_commit_callbacks):
    vendor = VendorFactory(contact_email="help@shop.example")
    fund(vendor, 10_000)
    api = vendor_client(vendor)
    order_id = buy_b2b(api, django_capture_on_commit_callbacks).json()["id"]
    esim = Esim.objects.get(order_id=order_id)
    token = esim_page_token(esim)
    html = Client().get(f"/e/{token}").content.decode()
    assert 'id="help-email"' in html and "help@shop.example" in html
    assert 'id="help-message"' not in html
    refused = Client().post(f"/e/{token}/help", {"message": "Please help me now"})
    assert refused["Location"].endswith("help=error#help")
    assert Ticket.objects.count() == 0


def test_the_queue_shows_the_sla_clock_and_assignee(customer_esim, settings):
    settings.SUPPORT_SLA_HOURS = 24
    now = timezone.now()
    waiting = Ticket(waiting_since=now - timedelta(hours=3), status="open")
    late = Ticket(waiting_since=now - timedelta(hours=30), status="open")
    assert sla_text(waiting, now) == "21 h 00 min left"
    assert sla_text(late, now) == "overdue by 6 h 00 min"
    assert sla_text(Ticket(status="answered"), now) == "answered"
    ticket = Ticket.objects.create(
        customer=customer_esim.order.customer,
        subject="Help",
        iccid=customer_esim.iccid,
        order=customer_esim.order,
        waiting_since=now,
    )
    agent = operator("support")
    console = Client()
    console.force_login(agent)
    assert (
        console.post(
            f"/admin/support/ticket/{ticket.pk}/assign/", {"assignee": agent.pk}
        ).status_code
        == 302
    )
    ticket.refresh_from_db()
    assert ticket.assignee == agent
    detail = console.get(f"/admin/support/ticket/{ticket.pk}/change/").content.decode()
    assert "left" in detail and customer_esim.status in detail
    assert f"order {customer_esim.order_id}" in detail
    listing = console.get("/admin/support/ticket/").content.decode()
    assert "h 00 min left" in listing or "min left" in listing


@pytest.mark.parametrize(
    ("body", "greeted"),
    [
        ("Hola Lucía, activa el roaming.", False),
        ("Buenos días: activa el roaming.", False),
        ("Activa el roaming.", True),
    ],
)
def test_the_answer_email_greets_once(
    customer_esim, django_capture_on_commit_callbacks, body, greeted
):
    """An answer that greets the reader itself gets no "Hola:" above it ("Hola: Hola
    Lucía"); one that does not is greeted by the email."""
    ticket = Ticket.objects.create(
        customer=customer_esim.order.customer, subject="Ayuda", language="es"
    )
    console = Client()
    console.force_login(operator("support"))
    with django_capture_on_commit_callbacks(execute=True):
        console.post(f"/admin/support/ticket/{ticket.pk}/answer/", {"body": body})
    email = mail.outbox[-1]
    html = str(email.alternatives[0][0])
    assert email.body.lstrip().startswith("Hola:") is greeted, email.body
    assert ("<p>Hola:</p>" in html) is greeted
    assert body in email.body


def test_a_ticket_opened_on_the_install_page_is_acknowledged_by_email(
    customer_esim, settings, django_capture_on_commit_callbacks
):
    """The traveller hears, in their language, that the message arrived, with the
    ticket's reply address and link."""
    settings.SUPPORT_EMAIL = "support@ttelgo.example"
    token = esim_page_token(customer_esim)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(f"/e/{token}/help?lang=es", {"message": "No tengo datos en Lisboa."})
    ticket = Ticket.objects.get()
    (ack,) = [m for m in mail.outbox if m.to == ["traveller@example.com"]]
    assert ack.subject == f"Hemos recibido tu mensaje (consulta n.º {ticket.pk})"
    assert "te responderemos por correo" in ack.body
    assert ack.reply_to == [ticket_reply_address(ticket)]
    assert f"/t/{ticket_link_token(ticket)}" in ack.body
