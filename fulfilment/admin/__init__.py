"""Fulfilment in the operator console. Django's admin imports `fulfilment.admin`: each
module of the package registers its models' pages."""

from fulfilment.admin import esims, orders
from fulfilment.auto_topups import admin as auto_topups
from fulfilment.stock import admin as stock

__all__ = ["auto_topups", "esims", "orders", "stock"]
