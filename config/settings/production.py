"""Production: refuses to start on an unsafe configuration.

Everything is still read from the environment (base.py); this module only adds the checks
and the security headers that `manage.py check --deploy` asks for.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *
from .base import INSECURE_SECRET_KEY, env

# Operators (refunds, credit limits) pass a second factor before the console.
CONSOLE_REQUIRE_MFA = env.bool("CONSOLE_REQUIRE_MFA", default=True)


def _refuse_unsafe() -> None:
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if (
        SECRET_KEY == INSECURE_SECRET_KEY
        or len(SECRET_KEY) < 50
        or SECRET_KEY.startswith("django-insecure")
    ):
        problems.append("SECRET_KEY must be set to a long random value")
    if ESIM_PROVIDER == "sandbox":
        problems.append("ESIM_PROVIDER=sandbox is not allowed in production")
    if PAYMENTS_BACKEND == "sandbox":
        problems.append("PAYMENTS_BACKEND=sandbox is not allowed in production")
    if VAT_VALIDATOR_CLASS.startswith("sandbox."):
        problems.append("VAT_VALIDATOR_CLASS may not be the sandbox's in production")
    if PAYMENTS_BACKEND == "stripe" and not STRIPE_SECRET_KEY:
        problems.append("STRIPE_SECRET_KEY is required")
    if STRIPE_WEBHOOK_SECRET.startswith("whsec_sandbox"):
        problems.append("STRIPE_WEBHOOK_SECRET must be set")
    if "esimgo" in {ESIM_PROVIDER, *ESIM_PROVIDERS} and not ESIMGO_API_KEY:
        problems.append("ESIMGO_API_KEY is required")
    if "airalo" in {ESIM_PROVIDER, *ESIM_PROVIDERS} and not (
        AIRALO_CLIENT_ID and AIRALO_CLIENT_SECRET
    ):
        problems.append("AIRALO_CLIENT_ID and AIRALO_CLIENT_SECRET are required")
    if "sandbox" in ESIM_PROVIDERS:
        problems.append("ESIM_PROVIDERS may not list sandbox in production")
    if WEBHOOKS_ALLOW_PRIVATE_URLS:
        problems.append(
            "WEBHOOKS_ALLOW_PRIVATE_URLS must be off (vendor webhooks would reach internal hosts)"
        )
    if not CONSOLE_REQUIRE_MFA:
        problems.append("CONSOLE_REQUIRE_MFA must be on (operators sign in with two-factor)")
    if problems:
        raise ImproperlyConfigured("Unsafe production configuration: " + "; ".join(problems))


_refuse_unsafe()

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# /metrics is never public in production: set METRICS_TOKEN for Prometheus to read it.
METRICS_PUBLIC = False
CONN_MAX_AGE = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_MAX_AGE"] = CONN_MAX_AGE
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
