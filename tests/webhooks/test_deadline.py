"""A slow endpoint cannot stretch an attempt: the whole request, from the connection to the
last byte read, ends at WEBHOOKS_TIMEOUT_SECONDS, however the receiver trickles its answer
(requests' own timeout only bounds each read)."""

import socketserver
import threading

from django.test import override_settings

from ttelgo.outbox import event_record
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.services import endpoint_create

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


class _Trickler(socketserver.BaseRequestHandler):
    """Reads the request, then answers a valid 200 one byte every 0.2 s (about 12 s in
    all), each byte well within any per-read timeout."""

    def handle(self):
        self.request.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:
            data += self.request.recv(65536)
        pause = threading.Event()
        try:
            for i in range(len(ANSWER)):
                self.request.sendall(ANSWER[i : i + 1])
                pause.wait(0.2)
        except OSError:
            return  # we hung up on it


@override_settings(WEBHOOKS_ALLOW_PRIVATE_URLS=True, WEBHOOKS_TIMEOUT_SECONDS=1.0)
def test_a_trickled_answer_is_cut_at_the_deadline(vendor_api, django_capture_on_commit_callbacks):
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Trickler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
        endpoint_create(vendor=vendor_api.vendor, url=url, events=["esim.expired"])
        with django_capture_on_commit_callbacks(execute=True):
            event_record(
                vendor_id=vendor_api.vendor.pk,
                livemode=vendor_api.vendor.livemode,
                type="esim.expired",
                data={},
            )
        server.shutdown()
    finally:
        server.server_close()

    attempt = WebhookAttempt.objects.get()
    assert not attempt.succeeded and attempt.status_code is None
    assert attempt.error == "DeadlineExceeded: no complete answer within 1s", attempt.error
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING  # retried later, as any failure
