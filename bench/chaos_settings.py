"""The chaos suite's settings: production's, checks included, with one difference: vendor
webhook endpoints may point at loopback, where the noisy-tenant scenario's slow receivers
run (ours, in the suite's own process)."""

from config.settings.production import *  # noqa: F403

WEBHOOKS_ALLOW_PRIVATE_URLS = True
