"""Fulfilment's tests share the order tests' fixtures: catalogue bundles, buyers, funded
vendors, a clean sandbox provider, the ledger's balance check after every statement."""

from tests.orders.conftest import *  # noqa: F403
