"""What payments tell the apps above them, inside the transaction that changed the payment.

Payments know nothing of orders: an order's card payment carries only its `order_id`, and
the orders app connects its reactions to these signals (`OrdersConfig.ready`). A receiver
runs in the caller's transaction and its errors propagate, so the payment and the order
move together or not at all.
"""

from django.dispatch import Signal

# kwargs: order_id
order_payment_succeeded = Signal()
# kwargs: order_id, reason
order_payment_failed = Signal()
# kwargs: order_id
order_payment_canceled = Signal()
# kwargs: order_id, fully_refunded, actor, reason
order_payment_refunded = Signal()
# kwargs: order_id, reason
order_payment_disputed = Signal()
