"""End to end over real HTTP: a receiver of our own on 127.0.0.1 verifies our signature
with the standardwebhooks library (private URLs allowed for this test only)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.test import override_settings
from standardwebhooks.webhooks import Webhook

from ttelgo.outbox import event_record
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"thanks")

    def log_message(self, *args):
        pass


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True)
def test_a_real_receiver_verifies_our_signature(vendor_api, django_capture_on_commit_callbacks):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
        _, secret = endpoint_create(vendor=vendor_api.vendor, url=url, events=["esim.expired"])
        with django_capture_on_commit_callbacks(execute=True):
            event_record(
                vendor_id=vendor_api.vendor.pk,
                livemode=True,
                type="esim.expired",
                data={"iccid": "8944"},
            )
    finally:
        server.shutdown()
        server.server_close()

    assert len(_Receiver.received) == 1
    headers, body = _Receiver.received[0]
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "esim.expired" and payload["data"] == {"iccid": "8944"}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded"
    assert delivery.attempts.get().response_body == "thanks"
