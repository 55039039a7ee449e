"""Stripe: the debtor pays on a hosted Checkout Session page, and Stripe confirms the payment
through a signed webhook event (settings.STRIPE_WEBHOOK_SECRET, the endpoint's signing secret).

Stripe's webhook is set up in its dashboard, not per payment: point it at
``<CRM_PORTAL_BASE_URL>/webhooks/payments/stripe/`` with the events ``checkout.session.completed``,
``checkout.session.async_payment_succeeded``, ``checkout.session.async_payment_failed`` and
``checkout.session.expired``. The checkout's ``order`` travels as the session's
``client_reference_id`` (and in its metadata), which is how an event finds its checkout.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .base import CallbackEvent, Redirect, SignatureError

if TYPE_CHECKING:
    from ..models import Checkout

HEADER = "Stripe-Signature"

# Stripe counts amounts in the currency's smallest unit, which is not always the cent
# (https://docs.stripe.com/currencies#zero-decimal). Any other currency has two decimals.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF",
                          "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

PAID_EVENTS = frozenset({"checkout.session.async_payment_succeeded"})
FAILED_EVENTS = frozenset({"checkout.session.async_payment_failed", "checkout.session.expired"})


def _exponent(currency: str) -> int:
    currency = currency.upper()
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``amount`` in the currency's smallest unit (12.34 EUR -> 1234); refuses a fraction of it."""
    minor = amount.scaleb(_exponent(currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{amount} {currency} has more decimals than the currency")
    return int(minor)


def from_minor_units(value: int, currency: str) -> Decimal:
    return Decimal(int(value)).scaleb(-_exponent(currency))


def _locale(language: str) -> str:
    return {"es": "es", "en": "en"}.get(language.split("-")[0].lower(), "auto")


class StripeProvider:
    name = "stripe"
    methods = ("card",)

    def __init__(self, *, http_client: stripe.HTTPClient | None = None) -> None:
        # Tests hand in an offline client; otherwise a short timeout, because the debtor's page
        # waits on the call (the library's default is 80 s).
        self._http_client = http_client

    def _client(self) -> stripe.StripeClient:
        if not settings.STRIPE_SECRET_KEY:
            raise ImproperlyConfigured("CRM_PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY.")
        return stripe.StripeClient(
            settings.STRIPE_SECRET_KEY,
            http_client=self._http_client or stripe.RequestsClient(timeout=(5, 20)),
            # Retries are safe: every create carries an idempotency key.
            max_network_retries=2,
        )

    def form_action_hosts(self) -> list[str]:
        return ["https://checkout.stripe.com"]

    def begin(self, *, checkout: Checkout, success_url: str, cancel_url: str, notify_url: str, language: str,
              description: str) -> Redirect:
        # notify_url is unused: Stripe sends its events to the endpoint set up in its dashboard.
        session = self._client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "line_items": [{
                    "quantity": 1,
                    "price_data": {
                        "currency": checkout.currency.lower(),
                        "unit_amount": to_minor_units(checkout.amount, checkout.currency),
                        "product_data": {"name": description[:250] or checkout.order},
                    },
                }],
                "client_reference_id": checkout.order,
                "metadata": {"order": checkout.order},
                "payment_intent_data": {"metadata": {"order": checkout.order}},
                "success_url": success_url,
                "cancel_url": cancel_url,
                "locale": _locale(language),
            },
            # A retried or double-submitted start returns the same session instead of a second one.
            options={"idempotency_key": f"checkout-{checkout.public_id}"},
        )
        if not session.url:
            raise RuntimeError("Stripe returned a Checkout Session without a URL")
        return Redirect(url=session.url, provider_ref=session.id)

    def parse_callback(self, *, body: bytes, headers: Mapping[str, str], form: Mapping[str, str]) -> CallbackEvent:
        secret = settings.STRIPE_WEBHOOK_SECRET
        if not secret:
            # Not a forgery: a deployment fault, so it should fail loudly (500, and Stripe retries).
            raise ImproperlyConfigured("CRM_PAYMENT_PROVIDER=stripe needs STRIPE_WEBHOOK_SECRET.")
        try:
            event = stripe.Webhook.construct_event(body, headers.get(HEADER), secret)
        except stripe.SignatureVerificationError as exc:
            raise SignatureError(str(exc).split(".")[0][:200]) from None
        except (ValueError, UnicodeDecodeError):
            raise SignatureError("malformed body") from None
        return _event(event.to_dict())


def _event(data: dict[str, Any]) -> CallbackEvent:
    """The CallbackEvent of one verified Stripe event (a plain dict of its JSON)."""
    kind = str(data.get("type", ""))
    obj = (data.get("data") or {}).get("object") or {}
    if not kind.startswith("checkout.session.") or obj.get("object") != "checkout.session":
        # Another kind of event the endpoint was subscribed to: recorded, acted on in no way.
        return CallbackEvent(event_id=str(data["id"]), order="", paid=None, detail={"type": kind})
    status = str(obj.get("payment_status") or "")
    paid: bool | None
    if kind == "checkout.session.completed":
        # "unpaid": a delayed method (a bank debit) still settling; its async_payment_* event
        # tells the outcome. "no_payment_required" cannot happen with a priced line item.
        paid = True if status == "paid" else None
    elif kind in PAID_EVENTS:
        paid = True
    elif kind in FAILED_EVENTS:
        paid = False
    else:
        paid = None
    currency = str(obj.get("currency") or "").upper()
    amount_total = obj.get("amount_total")
    order = obj.get("client_reference_id") or (obj.get("metadata") or {}).get("order") or ""
    return CallbackEvent(
        event_id=str(data["id"]), order=str(order), paid=paid,
        amount=from_minor_units(amount_total, currency) if amount_total is not None and currency else None,
        currency=currency, provider_ref=str(obj.get("id") or ""), detail={"type": kind, "status": status},
    )
