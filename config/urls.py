from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from fulfilment.pages.esim import esim_page
from fulfilment.pages.payment import esim_page_topup, payment_page
from support import pages as support_pages
from ttelgo import api, health, views
from ttelgo.metrics import metrics_view

handler400 = "ttelgo.views.json_400"
handler403 = "ttelgo.views.json_403"
handler404 = "ttelgo.views.json_404"
handler500 = "ttelgo.views.json_500"

auth_patterns: list[URLPattern | URLResolver] = [
    path("auth/register", api.RegisterApi.as_view(), name="auth-register"),
    path("auth/token", api.TokenApi.as_view(), name="auth-token"),
    path("auth/token/refresh", api.TokenRefreshApi.as_view(), name="auth-token-refresh"),
    path("me", api.MeApi.as_view(), name="me"),
]

api_v1: list[URLPattern | URLResolver] = [
    *auth_patterns,
    path("", include("fulfilment.urls")),
    path("", include("catalogue.urls")),
    path("", include("vendors.urls")),
    path("", include("payments.urls")),
    path("", include("billing.urls")),
    path("", include("webhooks.urls")),
    path("", include("sandbox.urls")),
    path("", include("support.urls")),
    path("", include("iot.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view, name="prometheus-django-metrics"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include(api_v1)),
    # Any other /api/v1/ URL: the envelope, also with DEBUG on (where Django would answer
    # with its HTML debug page instead of handler404). Not all of /api/: `/api/docs` must
    # still be redirected to `/api/docs/`. Whatever the method: an unsafe one is not asked
    # for a CSRF token first (nothing is there to protect; the API's own views are exempt
    # too, as DRF's are).
    re_path(r"^api/v1/", views.api_not_found, name="api-not-found"),
    # The catalogue's admin pages under the app's old name (esims), for operators'
    # bookmarks: remove with the esims migrations shell.
    re_path(
        r"^admin/esims/(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/catalogue/%(rest)s", query_string=True),
    ),
    # The pages of the models that moved from orders to fulfilment, under their old
    # addresses, for operators' bookmarks: remove one release after the move.
    re_path(
        r"^admin/orders/(?P<model>esim|esimrefund|providerrefund|autotopuprule|autotopuprun)/"
        r"(?P<rest>.*)$",
        RedirectView.as_view(url="/admin/fulfilment/%(model)s/%(rest)s", query_string=True),
    ),
    path("admin/", admin.site.urls),
    # The vendor portal (portal/) and its accounts (django-allauth: login, signup, email
    # verification, password reset, two-factor).
    path("portal/accounts/", include("allauth.urls")),
    path("portal/", include("portal.urls")),
    # A traveller's eSIM install page, behind its signed link (fulfilment/pages/esim.py).
    path("e/<str:token>", esim_page, name="esim-page"),
    path("e/<str:token>/help", support_pages.esim_help, name="esim-help"),
    path("e/<str:token>/topup", esim_page_topup, name="esim-topup"),
    # Confirming an off-session payment the bank held (SCA), from the email's link.
    path("pay/<str:token>", payment_page, name="payment-page"),
    # A support ticket's reply link, from the answers we email (support/pages.py).
    path("t/<str:token>", support_pages.ticket_page, name="ticket-page"),
]

if settings.BENCH_BARE_VIEW:  # benchmark-only comparison view (bench/urls.py)
    urlpatterns.append(path("bench/", include("bench.urls")))
