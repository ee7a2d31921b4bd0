"""The embedded default: `make run` on a laptop, no services, no keys."""

from .base import *
from .base import env

DEBUG = env.bool("DEBUG", default=True)
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
