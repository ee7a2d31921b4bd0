"""The embedded default: `make run` on a laptop, no services, no keys."""

from .base import *
from .base import env

DEBUG = env.bool("DEBUG", default=True)
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
# A developer's webhook receiver usually listens on this machine.
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=True)
