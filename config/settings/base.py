"""Settings shared by every environment, read from the environment through django-environ.

The names are part of the operator contract (README "Configuration"); a bad value fails at
start-up rather than at the first request.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_SECRET_KEY = "django-insecure-ttelgo-local-development-only"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- apps -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_prometheus",
    "simple_history",
    "ttelgo",
    "vendors",
    "catalogue",
    # Migrations only: the catalogue's history from when the app was called esims.
    "esims",
    "ledger",
    "billing",
    "payments",
    "orders",
    "fulfilment",
    "iot",
    "webhooks",
    "reconciliation",
    "support",
    "sandbox",
    "console",
    "portal",
    # Vendor staff accounts in the portal: signup, email verification, login, password
    # reset, TOTP two-factor with recovery codes (django-allauth).
    "allauth",
    "allauth.account",
    "allauth.mfa",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "ttelgo.middleware.RequestIDMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "vendors.request_log.RequestLogMiddleware",
    "ttelgo.middleware.BadInputMiddleware",
    "ttelgo.middleware.ConflictRetryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Staff reach the console only after a second factor when CONSOLE_REQUIRE_MFA is on.
    "console.second_factor.ConsoleSecondFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
# Whoever is asked to log in outside the console is a vendor (the console's own pages send
# staff to /admin/login/ themselves): the portal's login, e.g. after confirming an email
# address on another device. Staff with no `next` land on the console, not on Django's
# default /accounts/profile/ (which does not exist here).
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "admin:index"
CSRF_FAILURE_VIEW = "ttelgo.views.csrf_failure"

# --- vendor portal accounts (django-allauth) --------------------------------------------
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_ADAPTER = "portal.adapter.PortalAccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_SIGNUP_FORM_CLASS = "portal.forms.VendorSignupForm"
ACCOUNT_EMAIL_SUBJECT_PREFIX = "TTelGo: "
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# Failed logins are throttled per IP and per account (allauth's defaults, stated).
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "TTelGo vendor portal"
# TOTP secrets and recovery-code seeds are stored encrypted (ttelgo/mfa.py).
MFA_ADAPTER = "ttelgo.mfa.MfaAdapter"
# Operators pass a second factor (TOTP, enrolled through the same allauth pages) before any
# console page (console/second_factor.py). Off by default so `make run` and the tests log
# the demo operator in with a password; production turns it on and refuses it off.
CONSOLE_REQUIRE_MFA = env.bool("CONSOLE_REQUIRE_MFA", default=False)
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "ttelgo.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- data -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services open their own transactions
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                # A Redis outage makes cache reads misses and writes no-ops (the catalogue
                # is read from the database); throttles, which use the raw client, decide
                # for themselves (ttelgo/throttling.py).
                "IGNORE_EXCEPTIONS": True,
            },
            "KEY_PREFIX": "ttelgo",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- celery -----------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every worker also consumes its own queue `<nodename>.dq`: the liveness probe uses it.
CELERY_WORKER_DIRECT = True
# Queues and their worker pools (ttelgo/queues.py): provisioning, live webhooks, test
# mode, maintenance (beat's jobs) and recovery (the sweeps that send lost work again).
# Every task of the project is routed here (tests/core/test_queues.py); order provisioning
# and webhook deliveries of test mode are sent to `test` by their callers (`queue_for`).
CELERY_TASK_DEFAULT_QUEUE = "maintenance"
_ROUTES: dict[str, tuple[str, ...]] = {
    "provisioning": (
        "fulfilment.tasks.order_provision",
        "fulfilment.tasks.stock_order_tag",
        "orders.tasks.order_payment_react",
        "fulfilment.tasks.auto_topup_execute",
        "iot.tasks.iot_auto_topup",
        "iot.tasks.iot_sms_send",
        "webhooks.tasks.esim_callback_process",
        "webhooks.tasks.inbound_event_process",
        "payments.tasks.order_payment_refund",
        "payments.tasks.topup_receipt_email",
        "fulfilment.tasks.order_esims_email",
        "portal.tasks.bulk_order_place",
        "fulfilment.tasks.customer_email",
        "fulfilment.tasks.esim_lifecycle_email",
        "vendors.tasks.vendor_email_send",
        "vendors.tasks.operations_email_send",
        "vendors.tasks.person_email_send",
        "billing.tasks.vendor_low_balance_check",
        "support.tasks.ticket_answer_email",
        "support.tasks.ticket_received_email",
        "support.tasks.support_email_send",
        "ttelgo.tasks.ops_email_send",
    ),
    "webhooks": ("webhooks.tasks.delivery_send", "webhooks.tasks.event_publish"),
    "recovery": (
        "ttelgo.tasks.outbox_relay",
        "fulfilment.tasks.orders_redrive_stuck",
        "webhooks.tasks.deliveries_send_due",
        "webhooks.tasks.inbound_events_redrive",
    ),
    "maintenance": (
        "fulfilment.tasks.esims_usage_refresh",
        "fulfilment.tasks.esims_expiry_notify",
        "iot.tasks.iot_fleet_sync",
        "iot.tasks.iot_usage_sync",
        "iot.tasks.iot_sms_replies_sync",
        "iot.tasks.iot_bulk_job_run",
        "iot.tasks.iot_events_sync",
        "iot.tasks.iot_topups_reconcile",
        "fulfilment.tasks.auto_topups_expiry_check",
        "fulfilment.tasks.orders_delivery_guarantee",
        "fulfilment.tasks.orders_late_deliveries_revoke",
        "fulfilment.tasks.provider_refunds_collect",
        "fulfilment.tasks.esim_refunds_resume",
        "catalogue.tasks.catalogue_sync",
        "catalogue.tasks.catalogue_reprice",
        "orders.tasks.orders_awaiting_payment_expire",
        "billing.tasks.invoices_close_due",
        "billing.tasks.invoices_mark_overdue",
        "reconciliation.tasks.reconciliation_run",
        "reconciliation.tasks.reconciliation_execute",
        "reconciliation.tasks.reconciliation_runs_sweep",
        "console.tasks.dashboard_refresh",
        "ledger.tasks.ledger_checkpoint_advance",
        "ttelgo.tasks.idempotency_keys_purge",
        "vendors.tasks.request_logs_prune",
        "payments.tasks.card_fees_book",
        "payments.tasks.card_fees_sweep",
        "payments.tasks.payouts_record",
        "fulfilment.tasks.stock_refill",
        "fulfilment.tasks.stock_age",
        "fulfilment.tasks.stock_out_check",
    ),
}
# Task names are the dotted path of the module that defines them. A task that was renamed
# keeps its old name as an alias (the same function, registered under both names: a deploy
# may find messages queued under the old one, in the broker or in outbox rows), routed like
# the new one. Old name -> new name; remove an alias (here and its task) one release after
# the rename.
TASK_NAME_ALIASES: dict[str, str] = {
    "vendors.tasks.vendor_low_balance_check": "billing.tasks.vendor_low_balance_check",
    "orders.tasks.esim_callback_process": "webhooks.tasks.esim_callback_process",
    # fulfilment moved out of orders (fulfilment/tasks.py registers both names).
    "orders.tasks.order_provision": "fulfilment.tasks.order_provision",
    "orders.tasks.auto_topup_execute": "fulfilment.tasks.auto_topup_execute",
    "orders.tasks.order_esims_email": "fulfilment.tasks.order_esims_email",
    "orders.tasks.customer_email": "fulfilment.tasks.customer_email",
    "orders.tasks.esim_lifecycle_email": "fulfilment.tasks.esim_lifecycle_email",
    "orders.tasks.orders_redrive_stuck": "fulfilment.tasks.orders_redrive_stuck",
    "orders.tasks.esims_usage_refresh": "fulfilment.tasks.esims_usage_refresh",
    "orders.tasks.esims_expiry_notify": "fulfilment.tasks.esims_expiry_notify",
    "orders.tasks.auto_topups_expiry_check": "fulfilment.tasks.auto_topups_expiry_check",
    "orders.tasks.orders_delivery_guarantee": "fulfilment.tasks.orders_delivery_guarantee",
    "orders.tasks.orders_late_deliveries_revoke": "fulfilment.tasks.orders_late_deliveries_revoke",
    "orders.tasks.provider_refunds_collect": "fulfilment.tasks.provider_refunds_collect",
    "orders.tasks.esim_refunds_resume": "fulfilment.tasks.esim_refunds_resume",
    # the catalogue app was called esims
    "esims.tasks.catalogue_sync": "catalogue.tasks.catalogue_sync",
    "esims.tasks.catalogue_reprice": "catalogue.tasks.catalogue_reprice",
}
CELERY_TASK_ROUTES = {task: {"queue": queue} for queue, tasks in _ROUTES.items() for task in tasks}
CELERY_TASK_ROUTES |= {old: CELERY_TASK_ROUTES[new] for old, new in TASK_NAME_ALIASES.items()}
# An order or webhook delivery queued is not queued again for this long (unless the
# broker lost its data or a worker started since: ttelgo/queues.py).
ORDERS_QUEUED_LEASE_SECONDS = env.int("ORDERS_QUEUED_LEASE_SECONDS", default=300)
WEBHOOKS_QUEUED_LEASE_SECONDS = env.int("WEBHOOKS_QUEUED_LEASE_SECONDS", default=600)
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Periodic jobs; each task is thin and calls its app's service.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "esim-usage-refresh": {"task": "fulfilment.tasks.esims_usage_refresh", "schedule": 900.0},
    "esim-expiry-notify": {"task": "fulfilment.tasks.esims_expiry_notify", "schedule": 3600.0},
    "auto-topups-expiry": {"task": "fulfilment.tasks.auto_topups_expiry_check", "schedule": 3600.0},
    "catalogue-sync": {"task": "catalogue.tasks.catalogue_sync", "schedule": 3600.0},
    "orders-delivery-guarantee": {
        "task": "fulfilment.tasks.orders_delivery_guarantee",
        "schedule": 300.0,
    },
    "orders-late-deliveries-revoke": {
        "task": "fulfilment.tasks.orders_late_deliveries_revoke",
        "schedule": 600.0,
    },
    # eSIM refunds cut short after the revocation (payment failed, process died).
    "esim-refunds-resume": {"task": "fulfilment.tasks.esim_refunds_resume", "schedule": 300.0},
    "provider-refunds-collect": {
        "task": "fulfilment.tasks.provider_refunds_collect",
        "schedule": 3600.0,
    },
    "invoices-close-month": {"task": "billing.tasks.invoices_close_due", "schedule": 3600.0},
    "invoices-mark-overdue": {"task": "billing.tasks.invoices_mark_overdue", "schedule": 3600.0},
    "orders-redrive-stuck": {"task": "fulfilment.tasks.orders_redrive_stuck", "schedule": 30.0},
    "orders-awaiting-payment-expire": {
        "task": "orders.tasks.orders_awaiting_payment_expire",
        "schedule": 900.0,
    },
    # Card fees an event task missed, and the payouts Stripe paid (payments/fees.py).
    "card-fees-sweep": {"task": "payments.tasks.card_fees_sweep", "schedule": 3600.0},
    "payouts-record": {"task": "payments.tasks.payouts_record", "schedule": 3600.0},
    "reconciliation-run": {"task": "reconciliation.tasks.reconciliation_run", "schedule": 86400.0},
    "reconciliation-runs-sweep": {
        "task": "reconciliation.tasks.reconciliation_runs_sweep",
        "schedule": 300.0,
    },
    # The console dashboard's figures (whole-table aggregates), read from the cache.
    "console-dashboard-refresh": {"task": "console.tasks.dashboard_refresh", "schedule": 60.0},
    # The ledger folded into per-account totals: the trial balance and the integrity check
    # read the entries since (ledger/checkpoints.py).
    "ledger-checkpoint-advance": {
        "task": "ledger.tasks.ledger_checkpoint_advance",
        "schedule": 600.0,
    },
    "idempotency-keys-purge": {"task": "ttelgo.tasks.idempotency_keys_purge", "schedule": 3600.0},
    "webhook-deliveries-due": {"task": "webhooks.tasks.deliveries_send_due", "schedule": 60.0},
    "inbound-events-redrive": {"task": "webhooks.tasks.inbound_events_redrive", "schedule": 120.0},
    # Tasks whose send failed at commit (broker down): sent once the broker is back.
    "outbox-relay": {"task": "ttelgo.tasks.outbox_relay", "schedule": 5.0},
    "request-logs-prune": {"task": "vendors.tasks.request_logs_prune", "schedule": 3600.0},
    # IoT fleets (docs/IOT.md): SIMs and quotas, usage, SMS replies.
    "iot-fleet-sync": {"task": "iot.tasks.iot_fleet_sync", "schedule": 900.0},
    "iot-fleet-sync-test": {
        "task": "iot.tasks.iot_fleet_sync",
        "schedule": 900.0,
        "kwargs": {"livemode": False},
    },
    "iot-usage-sync": {"task": "iot.tasks.iot_usage_sync", "schedule": 3600.0},
    "iot-sms-replies-sync": {"task": "iot.tasks.iot_sms_replies_sync", "schedule": 60.0},
    "iot-events-sync": {"task": "iot.tasks.iot_events_sync", "schedule": 600.0},
    # Top-ups whose buy call ended without an answer: charged or released once.
    "iot-topups-reconcile": {"task": "iot.tasks.iot_topups_reconcile", "schedule": 300.0},
    # Ready stock (docs/STOCK.md): bought up to its target below the floor; given back to
    # the provider before its refund window closes.
    "stock-refill": {"task": "fulfilment.tasks.stock_refill", "schedule": 60.0},
    "stock-age": {"task": "fulfilment.tasks.stock_age", "schedule": 3600.0},
}

# Where travellers open their eSIM's install page (the links in emails, webhooks, the API).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

# An eSIM order not delivered this long after it started provisioning is refunded.
ESIM_DELIVERY_GUARANTEE_MINUTES = env.int("ESIM_DELIVERY_GUARANTEE_MINUTES", default=60)

# New support tickets and replies are emailed here (empty: nobody is emailed).
SUPPORT_EMAIL = env.str("SUPPORT_EMAIL", default="")
# A ticket's answer says "reply to this email": the Reply-To is ticket+<signed id>@ this
# domain, whose mail provider posts replies to /api/v1/webhooks/inbound-email with
# INBOUND_EMAIL_SECRET (empty: that endpoint refuses everything; the reply link works).
SUPPORT_REPLY_DOMAIN = env.str("SUPPORT_REPLY_DOMAIN", default="reply.ttelgo.local")
INBOUND_EMAIL_SECRET = env.str("INBOUND_EMAIL_SECRET", default="")
# Operators answer within this many hours of a requester's message (the queue's SLA).
SUPPORT_SLA_HOURS = env.int("SUPPORT_SLA_HOURS", default=24)

# Customers and vendors may ask for a refund of an unused eSIM this long after delivery.
ESIM_REFUND_WINDOW_DAYS = env.int("ESIM_REFUND_WINDOW_DAYS", default=30)

# --- ready stock (fulfilment/stock, docs/STOCK.md) ------------------------------------------
# The most eSIMs one refill order buys: eSIM Go advises at most 10 bundles per order.
STOCK_REFILL_BATCH_SIZE = env.int("STOCK_REFILL_BATCH_SIZE", default=10)
# Seconds between two refill orders (eSIM Go advises at least 3 s between orders).
STOCK_REFILL_SPACING_SECONDS = env.float("STOCK_REFILL_SPACING_SECONDS", default=3.0)
# Refill orders one run places at most (a run stays well inside the task time limit).
STOCK_REFILL_MAX_BATCHES_PER_RUN = env.int("STOCK_REFILL_MAX_BATCHES_PER_RUN", default=20)
# Provider call slots per rate-limit window a refill leaves to live provisioning: a refill
# call takes a slot only while more than this many are free.
STOCK_REFILL_RATE_RESERVE = env.int("STOCK_REFILL_RATE_RESERVE", default=5)
# A batch refused by the provider (breaker open, 429, 5xx) waits from this long, doubling
# per attempt up to the cap, before it is tried again.
STOCK_REFILL_BACKOFF_SECONDS = env.int("STOCK_REFILL_BACKOFF_SECONDS", default=60)
STOCK_REFILL_BACKOFF_MAX_SECONDS = env.int("STOCK_REFILL_BACKOFF_MAX_SECONDS", default=3600)
# A refill run holds a batch this long; a run that died frees it after the lease.
STOCK_REFILL_LEASE_SECONDS = env.int("STOCK_REFILL_LEASE_SECONDS", default=300)
# The most all stock of one mode may cost together, in minor units of each currency
# (besides each bundle's own cap).
STOCK_CAPITAL_CAP_TOTAL = env.int("STOCK_CAPITAL_CAP_TOTAL", default=1_000_000)
# Computed levels (a setting without a fixed floor and target): sales of the last N days,
# per hour, times the refill lead time, times the safety factor, is the floor; the target
# is the floor plus what sells in one lead time more.
STOCK_LEVELS_SALES_DAYS = env.int("STOCK_LEVELS_SALES_DAYS", default=14)
STOCK_REFILL_LEAD_TIME_HOURS = env.float("STOCK_REFILL_LEAD_TIME_HOURS", default=24.0)
STOCK_LEVELS_SAFETY_FACTOR = env.str("STOCK_LEVELS_SAFETY_FACTOR", default="1.5")
# The provider refunds an unused bundle this long after its purchase (eSIM Go: typically
# 60 days); stock is given back this many days before that.
STOCK_REFUND_WINDOW_DAYS = env.int("STOCK_REFUND_WINDOW_DAYS", default=60)
STOCK_REFUND_MARGIN_DAYS = env.int("STOCK_REFUND_MARGIN_DAYS", default=7)
# Stock given back whose refund is not seen at our provider balance after this many days
# is flagged by reconciliation (`stock_refund_overdue`).
STOCK_REFUND_OVERDUE_DAYS = env.int("STOCK_REFUND_OVERDUE_DAYS", default=7)

# A reconciliation run with no progress for this long lost its worker: marked failed.
RECONCILIATION_STALE_SECONDS = env.int("RECONCILIATION_STALE_SECONDS", default=900)

# /metrics: with a token, only `Authorization: Bearer <METRICS_TOKEN>` reads it; without
# one it is open where METRICS_PUBLIC says so (local and test), and 404 in production.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_PUBLIC = env.bool("METRICS_PUBLIC", default=True)

# --- upstream provider and payments -------------------------------------------------------
ESIM_PROVIDER = env.str("ESIM_PROVIDER", default="sandbox")
# The vendor API's request log (vendors/request_log.py): on, and written in batches by a
# background thread every this many seconds; 0 writes each line as its response is done
# (SQLite under `make run`, where a second writer would wait on the first).
API_REQUEST_LOG = env.bool("API_REQUEST_LOG", default=True)
API_REQUEST_LOG_FLUSH_SECONDS = env.float(
    "API_REQUEST_LOG_FLUSH_SECONDS",
    default=0.0 if env.str("DATABASE_URL", default="sqlite://").startswith("sqlite") else 1.0,
)
ESIMGO_API_KEY = env.str("ESIMGO_API_KEY", default="")
ESIMGO_BASE_URL = env.str("ESIMGO_BASE_URL", default="https://api.esim-go.com/v2.4")
# Provisioning retries back off exponentially from the base to the cap (with jitter).
ORDERS_PROVISION_RETRY_BASE_SECONDS = env.int("ORDERS_PROVISION_RETRY_BASE_SECONDS", default=5)
ORDERS_PROVISION_RETRY_MAX_SECONDS = env.int("ORDERS_PROVISION_RETRY_MAX_SECONDS", default=900)
# How long one eSIM Go call may wait for its answer (a read timeout is retried or checked).
ESIMGO_READ_TIMEOUT_SECONDS = env.float("ESIMGO_READ_TIMEOUT_SECONDS", default=20.0)
# Provider calls per second from all workers together (shared limiter in Redis).
ESIMGO_RATE_LIMIT_PER_SECOND = env.float("ESIMGO_RATE_LIMIT_PER_SECOND", default=10.0)
# Its circuit breaker: open after this many failed calls in a row, half-open after the reset.
ESIMGO_BREAKER_FAIL_MAX = env.int("ESIMGO_BREAKER_FAIL_MAX", default=5)
ESIMGO_BREAKER_RESET_SECONDS = env.float("ESIMGO_BREAKER_RESET_SECONDS", default=60.0)
# --- Airalo Partner API v2 (providers/airalo.py; docs/PROVIDERS.md has the sources) -----------
AIRALO_CLIENT_ID = env.str("AIRALO_CLIENT_ID", default="")
AIRALO_CLIENT_SECRET = env.str("AIRALO_CLIENT_SECRET", default="")
# The sandbox is an account mode on the production host now; older clients used
# https://sandbox-partners-api.airalo.com/v2.
AIRALO_BASE_URL = env.str("AIRALO_BASE_URL", default="https://partners-api.airalo.com/v2")
AIRALO_READ_TIMEOUT_SECONDS = env.float("AIRALO_READ_TIMEOUT_SECONDS", default=30.0)
AIRALO_BREAKER_FAIL_MAX = env.int("AIRALO_BREAKER_FAIL_MAX", default=5)
AIRALO_BREAKER_RESET_SECONDS = env.float("AIRALO_BREAKER_RESET_SECONDS", default=60.0)
# Airalo states no general limit; 5/s is its per-company usage limit, kept for every call.
AIRALO_RATE_LIMIT_PER_SECOND = env.float("AIRALO_RATE_LIMIT_PER_SECOND", default=5.0)
# Token endpoint: 3/min on its token page, 5/min on its limits page: the lower one.
AIRALO_TOKEN_RATE_LIMIT_PER_MINUTE = env.float("AIRALO_TOKEN_RATE_LIMIT_PER_MINUTE", default=3)
# "Valid 24 h, request a new one every 24 h" in words; a year in its sample: at most 24 h.
AIRALO_TOKEN_MAX_AGE_SECONDS = env.float("AIRALO_TOKEN_MAX_AGE_SECONDS", default=86400)
AIRALO_TOKEN_REFRESH_MARGIN_SECONDS = env.float("AIRALO_TOKEN_REFRESH_MARGIN_SECONDS", default=3600)
# Packages: 80/min per token on the endpoint page, 40/min on the limits page.
AIRALO_PACKAGES_RATE_LIMIT_PER_MINUTE = env.float(
    "AIRALO_PACKAGES_RATE_LIMIT_PER_MINUTE", default=40
)
AIRALO_PACKAGES_PAGE_SIZE = env.int("AIRALO_PACKAGES_PAGE_SIZE", default=100)
# Usage / package history: 5/s per company; per ICCID 10/min (current) vs 1 per 15 min
# (Dec 2024): one call per ICCID per 15 min (Airalo caches usage 20 min anyway).
AIRALO_USAGE_RATE_LIMIT_PER_SECOND = env.float("AIRALO_USAGE_RATE_LIMIT_PER_SECOND", default=5)
AIRALO_USAGE_CACHE_SECONDS = env.int("AIRALO_USAGE_CACHE_SECONDS", default=900)
AIRALO_REFUND_RATE_LIMIT_PER_MINUTE = env.float("AIRALO_REFUND_RATE_LIMIT_PER_MINUTE", default=5)
AIRALO_REFUND_MAX_ICCIDS = env.int("AIRALO_REFUND_MAX_ICCIDS", default=5)
AIRALO_REFUND_REASON = env.str("AIRALO_REFUND_REASON", default="CHANGE_OF_PLAN")
AIRALO_ORDER_MAX_QUANTITY = env.int("AIRALO_ORDER_MAX_QUANTITY", default=50)
# Orders of this many eSIMs or more go to `orders-async` (0: never); its webhook must be
# our public `/api/v1/webhooks/airalo`.
AIRALO_ASYNC_ORDER_THRESHOLD = env.int("AIRALO_ASYNC_ORDER_THRESHOLD", default=10)
AIRALO_WEBHOOK_URL = env.str("AIRALO_WEBHOOK_URL", default="")
# After an async order was sent, finding nothing under our reference for this long means
# "not created yet", not "nothing bought" (its 202 may have been lost).
AIRALO_ASYNC_FIND_GRACE_SECONDS = env.int("AIRALO_ASYNC_FIND_GRACE_SECONDS", default=900)
AIRALO_BRAND_SETTINGS_NAME = env.str("AIRALO_BRAND_SETTINGS_NAME", default="")
# Airalo pays refunds back in credit after a manual review: reconciliation flags a refund
# whose credit has not been matched after this many days.
PROVIDER_CREDIT_OVERDUE_DAYS = env.int("PROVIDER_CREDIT_OVERDUE_DAYS", default=14)
# When Redis fails to answer the provider's circuit breaker or rate limiter (one 0.5 s
# timeout), that process keeps local state for this long before it tries Redis again.
PROVIDER_REDIS_COOLDOWN_SECONDS = env.float("PROVIDER_REDIS_COOLDOWN_SECONDS", default=5.0)
# Cached catalogue answers also kept in each process's memory (catalogue/api.py).
CATALOGUE_LOCAL_CACHE = env.bool("CATALOGUE_LOCAL_CACHE", default=True)
PAYMENTS_BACKEND = env.str("PAYMENTS_BACKEND", default="sandbox")
# The simulators (the `sandbox` app) used when ESIM_PROVIDER / PAYMENTS_BACKEND is "sandbox".
SANDBOX_PROVIDER_CLASS = "sandbox.provider.SandboxProvider"
SANDBOX_GATEWAY_CLASS = "sandbox.gateway.SandboxGateway"
# Exchange rates (catalogue/fx.py): the ECB's reference rates, or a fixed table (1 EUR =).
FX_SOURCE_CLASS = env.str(
    "FX_SOURCE_CLASS",
    default=(
        "catalogue.fx.FixedFxSource"
        if PAYMENTS_BACKEND == "sandbox"
        else "catalogue.fx.EcbFxSource"
    ),
)
# The currencies customers may choose to see prices and pay in, besides the catalogue's own
# (catalogue/fx.py builds a price list per currency at each sync/reprice). Empty: none.
CUSTOMER_CURRENCIES: list[str] = env.list("CUSTOMER_CURRENCIES", default=[])
FX_FIXED_RATES: dict[str, str] = {
    "USD": "1.0800",
    "GBP": "0.8500",
    "JPY": "162.00",
    "CHF": "0.9500",
    "AUD": "1.6500",
    "CAD": "1.4700",
    "SEK": "11.50",
    "NOK": "11.60",
    "DKK": "7.4600",
    "SGD": "1.4500",
    "AED": "3.9700",
    "NZD": "1.7800",
    "KWD": "0.3320",
}
# The platform as seller, on invoices and receipts, and whose VAT rules apply
# (ttelgo/tax.py): an empty PLATFORM_COUNTRY means no VAT registration, no tax computed.
PLATFORM_LEGAL_NAME = env.str("PLATFORM_LEGAL_NAME", default="TTelGo")
PLATFORM_COUNTRY = env.str("PLATFORM_COUNTRY", default="")
PLATFORM_VAT_NUMBER = env.str("PLATFORM_VAT_NUMBER", default="")
# Buyers' VAT numbers are checked with VIES; the sandbox's fake where payments are sandboxed.
VIES_URL = env.str(
    "VIES_URL", default="https://ec.europa.eu/taxation_customs/vies/rest-api/check-vat-number"
)
VAT_VALIDATOR_CLASS = env.str(
    "VAT_VALIDATOR_CLASS",
    default=(
        "sandbox.vat.SandboxVatValidator"
        if PAYMENTS_BACKEND == "sandbox"
        else "ttelgo.tax.ViesValidator"
    ),
)
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
# Stripe.js on the page where a customer confirms an off-session payment their bank held.
STRIPE_PUBLISHABLE_KEY = env.str("STRIPE_PUBLISHABLE_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="whsec_sandbox_local_only")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="USD")
# Sub-resellers: how many levels of sub-vendors may hang below a vendor the platform signed
# (3: vendor -> sub -> sub-sub -> sub-sub-sub).
SUB_VENDOR_MAX_DEPTH = env.int("SUB_VENDOR_MAX_DEPTH", default=3)
# Postpaid invoicing (ledger): days to pay, and whether overdue vendors may still order.
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=15)
SUSPEND_ORDERING_WHEN_OVERDUE = env.bool("SUSPEND_ORDERING_WHEN_OVERDUE", default=True)

if ESIM_PROVIDER not in {"sandbox", "esimgo", "airalo"}:
    raise environ.ImproperlyConfigured("ESIM_PROVIDER must be 'sandbox', 'esimgo' or 'airalo'")
# Routing (fulfilment/routing.py): the providers live orders may be placed with, in the
# order of preference when two offers cost the same; ESIM_PROVIDER (the catalogue's own
# provider) alone by default, so `make run` and the sandbox need no keys.
ESIM_PROVIDERS = env.list("ESIM_PROVIDERS", default=[ESIM_PROVIDER])
# Providers drained by an operator: no new order goes to them (finds and top-ups of the
# eSIMs they issued still do).
ESIM_PROVIDERS_DRAINED = env.list("ESIM_PROVIDERS_DRAINED", default=[])
if not set(ESIM_PROVIDERS) <= {"sandbox", "esimgo", "airalo"}:
    raise environ.ImproperlyConfigured("ESIM_PROVIDERS lists sandbox, esimgo or airalo only")
if PAYMENTS_BACKEND not in {"sandbox", "stripe"}:
    raise environ.ImproperlyConfigured("PAYMENTS_BACKEND must be 'sandbox' or 'stripe'")

# --- outbound vendor webhooks ---------------------------------------------------------------
# Private/loopback/link-local targets are refused (SSRF) unless this is on (development only).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=False)
# Fernet keys for endpoint signing secrets at rest: the first encrypts, all decrypt
# (rotation). Empty: a key derived from SECRET_KEY.
WEBHOOKS_ENCRYPTION_KEYS = env.list("WEBHOOKS_ENCRYPTION_KEYS", default=[])
# Fernet keys (newest first) for other secrets kept to be shown again (PaymentIntent
# client secrets); without them a key is derived from SECRET_KEY.
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[])
# The whole of one delivery attempt (DNS, connection, TLS, answer): a hard deadline a slow
# endpoint cannot stretch by trickling its answer (webhooks/http.py).
WEBHOOKS_TIMEOUT_SECONDS = env.float("WEBHOOKS_TIMEOUT_SECONDS", default=10.0)
# Attempts of one endpoint in flight at once, across all workers: a slow endpoint holds at
# most this many workers; its other deliveries wait their turn without holding one.
WEBHOOKS_ENDPOINT_CONCURRENCY = env.int("WEBHOOKS_ENDPOINT_CONCURRENCY", default=2)
# An endpoint whose every attempt has failed for this many days is disabled (vendor told).
WEBHOOKS_ENDPOINT_DISABLE_AFTER_DAYS = env.int("WEBHOOKS_ENDPOINT_DISABLE_AFTER_DAYS", default=5)
# After a secret rotation the old secret keeps signing beside the new one this long.
WEBHOOK_SECRET_OVERLAP_SECONDS = env.int("WEBHOOK_SECRET_OVERLAP_SECONDS", default=86400)

# --- benchmarks (bench/run.py only) ---------------------------------------------------------
# Mounts bench/urls.py: a bare view serving saved catalogue bytes, to compare against.
BENCH_BARE_VIEW = env.bool("BENCH_BARE_VIEW", default=False)
BENCH_BARE_BODY_FILE = env.str("BENCH_BARE_BODY_FILE", default="")

# --- email ------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="TTelGo <no-reply@ttelgo.local>")
OPERATIONS_EMAIL = env.str("OPERATIONS_EMAIL", default="ops@ttelgo.local")

# --- auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- API --------------------------------------------------------------------------------
# Reverse proxies of ours in front of the app (0: trust no X-Forwarded-For); see
# ttelgo/client_ip.py. DRF's own reading of it is set to the same number.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)

REST_FRAMEWORK = {
    "NUM_PROXIES": NUM_PROXIES,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["ttelgo.parsers.SafeJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "ttelgo.pagination.StandardPagination",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "ttelgo.negotiation.ContentNegotiation",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "ttelgo.schema.AutoSchema",
    "EXCEPTION_HANDLER": "ttelgo.views.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [],
    "DEFAULT_THROTTLE_RATES": {
        "auth": env.str("THROTTLE_AUTH", default="10/min"),
        "vendor": env.str("THROTTLE_VENDOR", default="600/min"),
        "vendor_orders": env.str("THROTTLE_VENDOR_ORDERS", default="60/min"),
        # Test-mode keys count apart from live ones, at their own (lower) rates.
        "vendor_test": env.str("THROTTLE_VENDOR_TEST", default="300/min"),
        "vendor_orders_test": env.str("THROTTLE_VENDOR_ORDERS_TEST", default="30/min"),
        "signup": env.str("THROTTLE_SIGNUP", default="5/hour"),
    },
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=14)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# What travellers read (the eSIM's page, customer emails) is translated into these; the
# API and the operator console stay in English. Catalogues: locale/<lang>/LC_MESSAGES.
LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]

SPECTACULAR_SETTINGS = {
    "TITLE": "TTelGo API",
    "DESCRIPTION": "eSIM reseller platform: customer (JWT) and vendor (API key) APIs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The client schema: no sandbox hooks or inbound webhooks; every operation documented
    # for integrators, with its errors and examples (config/api_docs.py).
    "PREPROCESSING_HOOKS": ["config.api_docs.endpoints_public"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api_docs.schema_document",
    ],
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "EsimStatusEnum": "fulfilment.models.Esim.Status",
        "LanguageEnum": LANGUAGES,
    },
}

# --- i18n / static ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- observability ------------------------------------------------------------------------
REQUEST_ID_HEADER = "X-Request-ID"
DJANGO_STRUCTLOG_CELERY_ENABLED = True
# The client IP is bound by ttelgo.client_ip (NUM_PROXIES), not by ipware's own guess.
DJANGO_STRUCTLOG_IP_LOGGING_ENABLED = False
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True  # RequestIDMiddleware has validated it
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")  # json | console

from ttelgo.logging import build_logging_config  # noqa: E402

LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

# --- admin ------------------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "TTelGo operations",
    "SITE_HEADER": "TTelGo",
    "SITE_SYMBOL": "sim_card",
    "DASHBOARD_CALLBACK": "console.dashboard.dashboard_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": "console.dashboard.sidebar_navigation",
    },
}
# The largest refund (minor units) the support role may give; bigger ones need finance.
SUPPORT_REFUND_LIMIT = env.int("SUPPORT_REFUND_LIMIT", default=5000)
# How long a customer order waits for its payment (a declined card may be retried) before
# it and its PaymentIntent are cancelled.
ORDER_PAYMENT_WINDOW_SECONDS = env.int("ORDER_PAYMENT_WINDOW_SECONDS", default=24 * 3600)

# --- IoT SIM fleets (1NCE; docs/IOT.md) ------------------------------------------------------
# "1nce" for the live fleet; "sandbox" (the default, and always in test mode) simulates one.
IOT_PROVIDER = env.str("IOT_PROVIDER", default="sandbox")
ONCE_CLIENT_ID = env.str("ONCE_CLIENT_ID", default="")
ONCE_CLIENT_SECRET = env.str("ONCE_CLIENT_SECRET", default="")
ONCE_BASE_URL = env.str("ONCE_BASE_URL", default="https://api.1nce.com/management-api")
ONCE_READ_TIMEOUT_SECONDS = env.float("ONCE_READ_TIMEOUT_SECONDS", default=20.0)
# The shared token is renewed this long before 1NCE's expiry (tokens last about an hour).
ONCE_TOKEN_REFRESH_MARGIN_SECONDS = env.int("ONCE_TOKEN_REFRESH_MARGIN_SECONDS", default=300)
# 1NCE's published limits, per path family: (calls, window seconds), for all processes
# together (shared limiter in Redis). 0 calls: unlimited.
ONCE_RATE_LIMITS: dict[str, tuple[int, float]] = {
    "sims": (env.int("ONCE_SIMS_PER_SECOND", default=10), 1.0),
    "oauth": (env.int("ONCE_OAUTH_PER_MINUTE", default=600), 60.0),
    "orders": (env.int("ONCE_ORDERS_PER_5_MINUTES", default=100), 300.0),
    "products": (env.int("ONCE_PRODUCTS_PER_5_MINUTES", default=100), 300.0),
    "support": (env.int("ONCE_SUPPORT_PER_5_MINUTES", default=100), 300.0),
}
# What 1NCE is told a top-up is paid with (it invoices us; empty falls back to banktransfer).
ONCE_TOPUP_PAYMENT_METHOD = env.str("ONCE_TOPUP_PAYMENT_METHOD", default="banktransfer")
# What one 1NCE top-up costs us and adds to a SIM (not in 1NCE's API: from the contract).
# Our price is this cost through the catalogue's global price rule, less the vendor's discount.
IOT_TOPUP_COST = env.str("IOT_TOPUP_COST", default="10.00")
IOT_TOPUP_DATA_MB = env.int("IOT_TOPUP_DATA_MB", default=500)
IOT_TOPUP_SMS = env.int("IOT_TOPUP_SMS", default=250)
# A SIM's quota alert fires when less than this share is left (1NCE warns at 20 %).
IOT_QUOTA_THRESHOLD_PERCENT = env.int("IOT_QUOTA_THRESHOLD_PERCENT", default=20)
# SIM events read per beat run (one call each, within the /sims limit: 2,000 at 10/s is
# 200 s of a 600 s period); a fleet larger than that is walked over several runs.
IOT_EVENTS_SYNC_BATCH = env.int("IOT_EVENTS_SYNC_BATCH", default=2000)
# A top-up whose buy call ended without an answer is reconciled after this long ...
IOT_TOPUP_RECONCILE_AFTER_SECONDS = env.int("IOT_TOPUP_RECONCILE_AFTER_SECONDS", default=120)
# ... and released when the provider still shows no trace of it this long after.
IOT_TOPUP_RECONCILE_GIVE_UP_SECONDS = env.int("IOT_TOPUP_RECONCILE_GIVE_UP_SECONDS", default=1800)
# A top-up still `reserved` this long after it was made without an unknown outcome: its
# process died during the buy call (far longer than any call's timeouts and retries).
IOT_TOPUP_STALE_SECONDS = env.int("IOT_TOPUP_STALE_SECONDS", default=3600)
# The simulated fleet of a vendor's test environment.
SANDBOX_IOT_PROVIDER_CLASS = "sandbox.iot.SandboxIotProvider"
