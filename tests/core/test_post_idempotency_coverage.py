"""API.md: `Idempotency-Key` is accepted on every POST and required on order and top-up
creation. This walks the URL conf, so a POST endpoint added later is checked too."""

from django.urls import URLPattern, URLResolver, get_resolver

REQUIRED = {
    "api/v1/orders",
    "api/v1/esims/<str:iccid>/topups",
    "api/v1/vendor/orders",
    "api/v1/vendor/esims/<str:iccid>/topups",
    "api/v1/vendor/wallet/topups",
    "api/v1/vendor/invoices/<int:invoice_id>/pay",
    "api/v1/esims/<str:iccid>/refund",
    "api/v1/vendor/esims/<str:iccid>/refund",
    "api/v1/vendor/iot/sims/<str:iccid>/topups",
    "api/v1/vendor/sub-vendors",
    "api/v1/vendor/sub-vendors/<int:sub_vendor_id>/credit-limit",
    "api/v1/vendor/sub-vendors/<int:sub_vendor_id>/transfers",
}
# POSTs that do not take the header, and why.
EXEMPT = {
    # Credentials in, tokens out: a stored replay would keep live tokens in the database.
    "api/v1/auth/token",
    "api/v1/auth/token/refresh",
    # Called by Stripe / eSIM Go, deduplicated on the sender's own event id.
    "api/v1/webhooks/stripe",
    "api/v1/webhooks/esimgo",
    "api/v1/webhooks/airalo",
    # Called by the mail provider, deduplicated on the email's Message-ID.
    "api/v1/webhooks/inbound-email",
}


def post_views():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                if view is not None and hasattr(view, "post"):
                    yield prefix + str(pattern.pattern), view

    return [
        (path, view)
        for path, view in walk(get_resolver().url_patterns)
        if path.startswith("api/v1/")
    ]


def test_every_post_accepts_an_idempotency_key():
    views = post_views()
    assert len(views) >= 15
    missing = [
        path
        for path, view in views
        if path not in EXEMPT and not getattr(view.post, "idempotent", False)
    ]
    assert missing == []


def test_order_and_topup_creation_require_it():
    views = dict(post_views())
    assert set(views) >= REQUIRED
    for path in REQUIRED:
        assert getattr(views[path].post, "idempotency_required", False), path
    optional = [
        p
        for p, v in views.items()
        if p not in REQUIRED and getattr(v.post, "idempotency_required", False)
    ]
    assert optional == []


def test_exemptions_are_real_endpoints():
    assert {path for path, _ in post_views()} >= EXEMPT
