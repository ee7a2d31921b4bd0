"""The eSIM's page and the customer's emails in the traveller's language (en, es, fr,
de: the browser's, or `?lang=`), and a vendor's eSIM page under the vendor's own brand
(set through the API), with nothing of ours on it."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from fulfilment.links import esim_page_token
from fulfilment.models import Esim
from fulfilment.services import esim_usage_apply
from tests.factories import UserFactory, VendorFactory
from tests.orders.factories import customer_client, fund, vendor_client
from tests.orders.helpers import buy_b2b, buy_b2c, pay
from vendors.branding import text_colour_on
from vendors.models import VendorBrand

pytestmark = pytest.mark.django_db


@pytest.fixture
def vendor_esim(bundles, django_capture_on_commit_callbacks):
    vendor = VendorFactory(name="Shop Ltd", contact_email="ops@shop.example")
    fund(vendor, 10_000)
    api = vendor_client(vendor)
    order_id = buy_b2b(api, django_capture_on_commit_callbacks).json()["id"]
    return api, Esim.objects.get(order_id=order_id)


def test_the_page_follows_the_browser_and_can_be_switched(vendor_esim):
    _api, esim = vendor_esim
    url = f"/e/{esim_page_token(esim)}"
    spanish = Client().get(url, HTTP_ACCEPT_LANGUAGE="es-ES,es;q=0.9,en;q=0.5")
    html = spanish.content.decode()
    assert spanish["Content-Language"] == "es" and '<html lang="es">' in html
    assert "Tu eSIM" in html and "Copiar el código de activación" in html
    german = Client().get(f"{url}?lang=de", HTTP_ACCEPT_LANGUAGE="es")
    assert "Aktivierungscode kopieren" in german.content.decode()
    assert german["Content-Language"] == "de"
    english = Client().get(f"{url}?lang=xx", HTTP_ACCEPT_LANGUAGE="ja")
    assert "Copy the activation code" in english.content.decode()
    french = Client().get(url, HTTP_ACCEPT_LANGUAGE="fr-CA").content.decode()
    assert "Copier le code d'activation" in french
    for code in ("en", "es", "fr", "de"):  # the switcher
        assert f'href="?lang={code}"' in html


def test_a_broken_link_gets_a_friendly_page_in_the_travellers_language(db):
    gone = Client().get("/e/forged-token", HTTP_ACCEPT_LANGUAGE="fr")
    assert gone.status_code == 404 and gone["Content-Type"].startswith("text/html")
    assert "Ce lien ne fonctionne pas" in gone.content.decode()


def test_a_vendor_sets_its_brand_and_its_customers_see_only_that(vendor_esim):
    api, esim = vendor_esim
    default = api.get("/api/v1/vendor/brand").json()
    assert default["display_name"] == "Shop Ltd" and default["support_email"] == "ops@shop.example"
    bad = api.put(
        "/api/v1/vendor/brand",
        {"display_name": "G", "logo_url": "http://plain.example/logo.png", "primary_color": "red"},
        format="json",
    )
    assert bad.status_code == 400
    assert set(bad.json()["error"]["details"]) == {"primary_color"}  # the serializer first
    insecure = api.put(
        "/api/v1/vendor/brand",
        {"display_name": "G", "logo_url": "http://plain.example/logo.png"},
        format="json",
    )
    assert insecure.status_code == 400 and "logo_url" in insecure.json()["error"]["details"]
    assert not VendorBrand.objects.exists()  # nothing half-written
    brand = {
        "display_name": "Globetrotter Mobile",
        "logo_url": "https://globetrotter.example/logo.png",
        "primary_color": "#fde047",
        "support_url": "https://globetrotter.example/help",
        "support_email": "help@globetrotter.example",
        "topup_url": "https://globetrotter.example/data",
        "sender_name": "Globetrotter",
    }
    saved = api.put("/api/v1/vendor/brand", brand, format="json")
    assert saved.status_code == 200 and saved.json() == brand
    changed = api.patch("/api/v1/vendor/brand", {"primary_color": "#0f766e"}, format="json")
    assert changed.json()["display_name"] == "Globetrotter Mobile"
    assert changed.json()["primary_color"] == "#0f766e"

    html = Client().get(f"/e/{esim_page_token(esim)}").content.decode()
    assert "Globetrotter Mobile" in html and "https://globetrotter.example/logo.png" in html
    assert "--brand: #0f766e; --on-brand: #ffffff" in html
    assert "https://globetrotter.example/help" in html and "help@globetrotter.example" in html
    assert 'href="https://globetrotter.example/data"' in html
    # Nothing of ours (the sandbox's SM-DP+ host aside: it is the provider's address).
    assert (
        "ttelgo"
        not in html.replace(esim.smdp_address, "")
        .replace("%24", "$")
        .replace(esim.smdp_address, "")
        .lower()
    )


def test_text_on_a_brand_colour_is_whichever_reads_better():
    assert text_colour_on("#fde047") == "#000000"  # yellow: black text
    assert text_colour_on("#1e3a8a") == "#ffffff"  # navy: white text
    assert text_colour_on("#2563eb") == "#ffffff"


def test_a_customers_emails_come_in_the_customers_language(
    bundles, django_capture_on_commit_callbacks
):
    user = UserFactory()
    api = customer_client(user)
    assert api.patch("/api/v1/me", {"language": "xx"}, format="json").status_code == 400
    assert api.patch("/api/v1/me", {"language": "de"}, format="json").json()["language"] == "de"
    order = buy_b2c(api, django_capture_on_commit_callbacks)
    pay(api, django_capture_on_commit_callbacks, order)
    ready = mail.outbox[-1]
    assert ready.subject == f"Ihre eSIM ist bereit (Bestellung {order['id']})"
    esim = Esim.objects.get(order_id=order["id"])
    with django_capture_on_commit_callbacks(execute=True):
        esim_usage_apply(
            esim_id=esim.pk, initial_mb=1000, remaining_mb=150, unlimited=False, state="active"
        )
    lifecycle = mail.outbox[-1]
    assert lifecycle.subject == "Sie haben 80 % der Daten Ihrer eSIM verbraucht"
    assert "150 MB übrig" in lifecycle.body
    assert "Seite Ihrer eSIM" in lifecycle.alternatives[0][0]


def test_registration_takes_the_browsers_language(db):
    created = Client().post(
        "/api/v1/auth/register",
        {"email": "ana@example.com", "password": "a-long-passphrase-1"},
        content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.8",
    )
    assert created.status_code == 201
    from ttelgo.models import User

    assert User.objects.get(email="ana@example.com").language == "es"


def test_a_vendors_end_customer_gets_the_esims_under_the_vendors_brand(
    bundles, django_capture_on_commit_callbacks
):
    vendor = VendorFactory(name="Shop Ltd", contact_email="ops@shop.example")
    fund(vendor, 10_000)
    api = vendor_client(vendor)
    api.put(
        "/api/v1/vendor/brand",
        {
            "display_name": "Globetrotter Mobile",
            "sender_name": "Globetrotter",
            "support_email": "help@globetrotter.example",
        },
        format="json",
    )
    bad = buy_b2b(api, django_capture_on_commit_callbacks, customer_email="not-an-email")
    assert bad.status_code == 400 and "customer_email" in bad.json()["error"]["details"]
    order = buy_b2b(
        api,
        django_capture_on_commit_callbacks,
        customer_email="ana@example.com",
        customer_language="es",
    ).json()
    (sent,) = mail.outbox
    assert sent.to == ["ana@example.com"] and sent.reply_to == ["help@globetrotter.example"]
    assert sent.from_email.startswith("Globetrotter <")
    assert sent.subject == f"Tu eSIM está lista (pedido {order['id']})"
    assert "Globetrotter Mobile" in sent.body and "TTelGo" not in sent.body
    esim = Esim.objects.get(order_id=order["id"])
    assert f"/e/{esim_page_token(esim)}" in sent.body

    with django_capture_on_commit_callbacks(execute=True):
        resent = api.post(
            f"/api/v1/vendor/esims/{esim.iccid}/resend",
            {"email": "luis@example.com"},
            format="json",
        )
    assert resent.status_code == 202 and mail.outbox[-1].to == ["luis@example.com"]
    plain = buy_b2b(api, django_capture_on_commit_callbacks).json()  # no customer_email
    assert len(mail.outbox) == 2
    other = Esim.objects.get(order_id=plain["id"])
    nobody = api.post(f"/api/v1/vendor/esims/{other.iccid}/resend", {}, format="json")
    assert nobody.status_code == 400
    stranger = vendor_client(VendorFactory())
    assert (
        stranger.post(f"/api/v1/vendor/esims/{esim.iccid}/resend", {}, format="json").status_code
        == 404
    )
