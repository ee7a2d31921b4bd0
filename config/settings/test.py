"""Test settings: the suite's own choices on top of whatever DATABASE_URL / REDIS_URL say."""

from .base import *

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ESIM_PROVIDER = "sandbox"
ESIMGO_RATE_LIMIT_PER_SECOND = 0.0  # unlimited; tests/catalogue/test_ratelimit.py builds its own
CATALOGUE_LOCAL_CACHE = False  # tests clear the shared cache between tests, not process memory
PAYMENTS_BACKEND = "sandbox"
API_REQUEST_LOG_FLUSH_SECONDS = (
    0.0  # written inline; tests/vendors/test_request_log.py runs the thread
)
STRIPE_WEBHOOK_SECRET = "whsec_test_secret_for_the_suite"  # noqa: S105
LOG_FORMAT = "console"
LOG_LEVEL = "WARNING"
LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
# Throttles are exercised by tests that lower them on purpose; elsewhere they stay out of the way.
_TEST_RATES: dict[str, str] = {
    "auth": "1000/min",
    "vendor": "10000/min",
    "vendor_orders": "10000/min",
    "vendor_test": "10000/min",
    "vendor_orders_test": "10000/min",
    "signup": "1000/min",
}
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": _TEST_RATES}
IOT_PROVIDER = "sandbox"
ONCE_RATE_LIMITS = {}  # tests/providers build their own limiters
