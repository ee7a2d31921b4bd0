"""Fraud rules engine: scores each paid order against the rules operators configure in
the admin (`FraudRule`, `FraudSettings`). An order whose score reaches the threshold is
held for review (`in_review`) with the reasons of every rule that fired.

`fraud_assess(*, order)` is what `orders.receivers.order_payment_succeeded` calls; the
review decisions themselves live in `orders/admin_review.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from orders.fraud.models import FRAUD_RULES_CACHE_KEY, FraudRule, FraudSettings
from orders.models import Order
from payments.models import Payment
from ttelgo.money import Money

WINDOWS = {FraudRule.Window.HOUR: timedelta(hours=1), FraudRule.Window.DAY: timedelta(days=1)}
# Orders that count towards velocity: everything a buyer got through to payment.
NOT_COUNTED = (Order.Status.AWAITING_PAYMENT, Order.Status.CANCELLED)
# A safety net only: saving or deleting a rule drops the cached copy at once.
RULES_CACHE_SECONDS = 300


@dataclass(frozen=True)
class CardFacts:
    fingerprint: str = ""
    country: str = ""


@dataclass(frozen=True)
class Facts:
    """What the rules look at beyond the order row: its card, its eSIM count, and whether
    the order is still a candidate (a vendor order assessed before it is stored)."""

    card: CardFacts
    quantity: int
    candidate: bool = False


@dataclass(frozen=True)
class Hit:
    rule_id: int
    kind: str
    score: int
    reason: str


@dataclass
class Assessment:
    score: int = 0
    threshold: int = 0
    hits: list[Hit] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return bool(self.hits) and self.score >= self.threshold

    @property
    def reasons(self) -> list[str]:
        return [h.reason for h in self.hits]


def card_facts(*, order: Order) -> CardFacts:
    """The card behind a customer's payment, as its Stripe charge event recorded it on the
    payment. Empty when the charge event has not arrived."""
    card = (
        Payment.objects.filter(order_id=order.pk, kind=Payment.Kind.ORDER)
        .values_list("card_fingerprint", "card_country")
        .first()
    )
    if card is None:
        return CardFacts()
    return CardFacts(fingerprint=card[0], country=card[1])


def _counted(qs: QuerySet[Order], since: datetime, facts: Facts) -> int:
    """Orders in the window, this one included (a candidate is not stored yet)."""
    stored = qs.filter(created_at__gte=since).exclude(status__in=NOT_COUNTED).count()
    return stored + (1 if facts.candidate else 0)


def _window_text(rule: FraudRule) -> str:
    return "hour" if rule.window == FraudRule.Window.HOUR else "day"


def _velocity(order: Order, rule: FraudRule, facts: Facts) -> str | None:
    since = timezone.now() - WINDOWS[FraudRule.Window(rule.window)]
    orders = Order.objects.all()
    if rule.kind == FraudRule.Kind.CUSTOMER_VELOCITY:
        if order.customer_id is None:
            return None
        count, what = (
            _counted(orders.filter(customer_id=order.customer_id), since, facts),
            "customer",
        )
    elif rule.kind == FraudRule.Kind.EMAIL_DOMAIN_VELOCITY:
        email = order.customer.email if order.customer is not None else ""
        domain = email.rpartition("@")[2].lower()
        if not domain:
            return None
        count = _counted(orders.filter(customer__email__iendswith=f"@{domain}"), since, facts)
        what = f"email domain {domain}"
    elif rule.kind == FraudRule.Kind.IP_VELOCITY:
        if not order.client_ip:
            return None
        count = _counted(orders.filter(client_ip=order.client_ip), since, facts)
        what = f"IP {order.client_ip}"
    elif rule.kind == FraudRule.Kind.CARD_VELOCITY:
        if not facts.card.fingerprint:
            return None
        count, what = _card_count(facts.card.fingerprint, since, order), "card"
    elif rule.kind == FraudRule.Kind.VENDOR_VELOCITY:
        if order.vendor_id is None:
            return None
        count, what = _counted(orders.filter(vendor_id=order.vendor_id), since, facts), "vendor"
    else:  # pragma: no cover - the caller dispatches only velocity kinds here
        return None
    if count <= rule.limit:
        return None
    return f"{count} orders by this {what} in the last {_window_text(rule)} (limit {rule.limit})"


def _card_count(fingerprint: str, since: datetime, order: Order) -> int:
    """Orders paid with this card since `since`, this one included."""
    return Payment.objects.filter(
        Q(card_fingerprint=fingerprint, created_at__gte=since) | Q(order_id=order.pk),
        kind=Payment.Kind.ORDER,
    ).count()


def _first_order_amount(order: Order, rule: FraudRule, facts: Facts) -> str | None:
    if order.currency != rule.currency or order.total <= rule.limit:
        return None
    buyer = Q(customer_id=order.customer_id) if order.customer_id else Q(vendor_id=order.vendor_id)
    earlier = Order.objects.filter(buyer).exclude(pk=order.pk).exclude(status__in=NOT_COUNTED)
    if earlier.exists():
        return None
    total, limit = Money(order.total, order.currency), Money(rule.limit, rule.currency)
    return f"first order of this buyer is {total} (limit {limit})"


def _country(order: Order, rule: FraudRule, facts: Facts) -> str | None:
    if order.vendor is not None:
        country, source = (order.vendor.country or "").upper(), "vendor country"
    else:
        country, source = facts.card.country, "card country"
    if country and country in rule.country_codes:
        return f"{source} {country} is on the risk list"
    return None


def _quantity(order: Order, rule: FraudRule, facts: Facts) -> str | None:
    if facts.quantity <= rule.limit:
        return None
    return f"{facts.quantity} eSIMs in one order (limit {rule.limit})"


def _disputes(order: Order, rule: FraudRule, facts: Facts) -> str | None:
    if order.customer_id is not None:
        buyer, who = Q(customer_id=order.customer_id), "customer"
    else:
        buyer, who = Q(vendor_id=order.vendor_id), "vendor"
    count = Order.objects.filter(buyer, disputed_at__isnull=False).count()
    if count <= rule.limit:
        return None
    return f"{count} disputes on record for this {who} (limit {rule.limit})"


CHECKS: dict[str, Callable[[Order, FraudRule, Facts], str | None]] = {
    FraudRule.Kind.FIRST_ORDER_AMOUNT: _first_order_amount,
    FraudRule.Kind.COUNTRY_RISK: _country,
    FraudRule.Kind.QUANTITY: _quantity,
    FraudRule.Kind.DISPUTES: _disputes,
    **{kind: _velocity for kind in FraudRule.Kind.values if kind.endswith("_velocity")},
}


def fraud_rules_enabled() -> tuple[list[FraudRule], int]:
    """The enabled rules and the review threshold, from the cache when it has them."""
    cached = cache.get(FRAUD_RULES_CACHE_KEY)
    if cached is None:
        rules = list(FraudRule.objects.filter(enabled=True).order_by("id"))
        threshold = FraudSettings.current().review_threshold if rules else 0
        cached = (rules, threshold)
        cache.set(FRAUD_RULES_CACHE_KEY, cached, RULES_CACHE_SECONDS)
    return cached[0], cached[1]


def fraud_evaluate(*, order: Order, quantity: int | None = None) -> Assessment:
    """Every enabled rule against the order; the total score and what fired.

    A stored order is read fresh. An unsaved vendor order (assessed before it is created,
    so it can start in review) passes its eSIM count as `quantity`."""
    rules, threshold = fraud_rules_enabled()
    if not rules:
        return Assessment()
    assessment = Assessment(threshold=threshold)
    candidate = order.pk is None
    if not candidate:
        order = Order.objects.select_related("customer", "vendor").get(pk=order.pk)
    if quantity is None:
        quantity = 0 if candidate else order.items.aggregate(q=Sum("quantity"))["q"] or 0
    card = card_facts(order=order) if not candidate and order.channel == "b2c" else CardFacts()
    facts = Facts(card=card, quantity=quantity, candidate=candidate)
    for rule in rules:
        reason = CHECKS[rule.kind](order, rule, facts)
        if reason is None:
            continue
        assessment.hits.append(
            Hit(rule_id=rule.pk, kind=rule.kind, score=rule.score, reason=f"{rule.name}: {reason}")
        )
        assessment.score += rule.score
    return assessment


def fraud_assess(*, order: Order, quantity: int | None = None) -> list[str]:
    """Reasons to hold the order for review; empty when it may go on (to provisioning)."""
    assessment = fraud_evaluate(order=order, quantity=quantity)
    if not assessment.held:
        return []
    return [*assessment.reasons, f"score {assessment.score} ≥ {assessment.threshold}"]
