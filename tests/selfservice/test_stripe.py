"""Stripe: Checkout Sessions started through an offline HTTP client (the request Stripe would get
is asserted), and webhook events shaped and signed as Stripe sends them, posted to our endpoint."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
import stripe

from cases.models import Case, Payment
from collections_crm.audit.models import AuditLog
from collections_crm.selfservice.models import CallbackOutcome, Checkout, CheckoutStatus, ProviderEvent
from collections_crm.selfservice.providers import get_provider
from collections_crm.selfservice.providers.stripe import StripeProvider, from_minor_units, to_minor_units
from contacts.models import ContactAttempt
from tests.factories import CaseFactory

from .factories_pay import STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, checkout_for, stripe_event, stripe_session, stripe_signature

pytestmark = pytest.mark.django_db

URL = "/webhooks/payments/stripe/"


@pytest.fixture(autouse=True)
def stripe_settings(settings):
    settings.CRM_PAYMENT_PROVIDER = "stripe"
    settings.STRIPE_SECRET_KEY = STRIPE_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    return settings


@pytest.fixture
def checkout(db):
    return checkout_for(CaseFactory(balance=Decimal("1000.00")), provider="stripe", amount="123.45")


def post(client, body: bytes, signature: str | None = None, **extra):
    headers = {"HTTP_STRIPE_SIGNATURE": stripe_signature(body) if signature is None else signature, **extra}
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_a_completed_paid_session_posts_the_payment_once(client, checkout):
    body = stripe_event("checkout.session.completed", stripe_session(checkout))
    response = post(client, body)
    assert (response.status_code, response.content) == (200, b"posted")

    payment = Payment.objects.get()
    assert (payment.case_id, payment.amount, payment.method) == (checkout.case_id, Decimal("123.45"), "card")
    assert payment.idempotency_key == f"checkout:{checkout.public_id}"
    assert Case.objects.get(pk=checkout.case_id).balance == Decimal("876.55")
    checkout.refresh_from_db()
    assert (checkout.status, checkout.payment, checkout.provider_ref) == (CheckoutStatus.PAID, payment, "cs_test_a1B2c3D4e5F6g7H8")
    event = ProviderEvent.objects.get()
    assert (event.event_id, event.signature_valid, event.outcome, event.checkout) == (
        "evt_1QxOfflineTestEvent01", True, CallbackOutcome.POSTED, checkout)
    assert event.detail == {"type": "checkout.session.completed", "status": "paid"}
    assert AuditLog.objects.filter(action="portal.checkout_paid").count() == 1
    assert ContactAttempt.objects.filter(case_id=checkout.case_id, channel="portal", outcome="payment").count() == 1

    # Stripe retries (or someone replays) the very same event: nothing more happens.
    again = post(client, body)
    assert (again.status_code, again.content) == (200, b"duplicate")
    assert Payment.objects.count() == 1 and ProviderEvent.objects.count() == 1
    assert Case.objects.get(pk=checkout.case_id).balance == Decimal("876.55")


def test_a_second_event_for_the_same_session_posts_nothing(client, checkout):
    session = stripe_session(checkout)
    assert post(client, stripe_event("checkout.session.completed", session, event_id="evt_1")).content == b"posted"
    response = post(client, stripe_event("checkout.session.async_payment_succeeded", session, event_id="evt_2"))
    assert (response.status_code, response.content) == (200, b"duplicate")
    assert Payment.objects.count() == 1
    assert Case.objects.get(pk=checkout.case_id).balance == Decimal("876.55")
    assert list(ProviderEvent.objects.order_by("id").values_list("event_id", "outcome")) == [
        ("evt_1", CallbackOutcome.POSTED), ("evt_2", CallbackOutcome.DUPLICATE)]


@pytest.mark.parametrize("signature", [
    pytest.param(lambda body: stripe_signature(body, secret="whsec_someone_else"), id="other-secret"),
    pytest.param(lambda body: "", id="no-header"),
    pytest.param(lambda body: f"t={int(time.time())},v0=abc", id="no-v1"),
    pytest.param(lambda body: stripe_signature(body, timestamp=int(time.time()) - 301), id="too-old"),
    pytest.param(lambda body: stripe_signature(body.replace(b"12345", b"1")), id="body-changed-after-signing"),
])
def test_a_forged_event_is_refused_recorded_and_acted_on_in_no_way(client, checkout, signature):
    body = stripe_event("checkout.session.completed", stripe_session(checkout))
    response = post(client, body, signature=signature(body), REMOTE_ADDR="203.0.113.7")
    assert (response.status_code, response.content) == (400, b"forged")
    event = ProviderEvent.objects.get()
    assert (event.provider, event.event_id, event.signature_valid, event.outcome, event.checkout) == (
        "stripe", None, False, CallbackOutcome.FORGED, None)
    assert event.remote_addr == "203.0.113.7" and event.detail["why"]
    assert not Payment.objects.exists()
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING


@pytest.mark.parametrize("kind", ["checkout.session.expired", "checkout.session.async_payment_failed"])
def test_an_expired_or_failed_session_fails_the_checkout(client, checkout, kind):
    session = stripe_session(checkout, payment_status="unpaid", status="expired" if kind.endswith("expired") else "complete")
    response = post(client, stripe_event(kind, session))
    assert (response.status_code, response.content) == (200, b"declined")
    checkout.refresh_from_db()
    assert (checkout.status, checkout.failure_reason) == (CheckoutStatus.FAILED, "unpaid")
    assert not Payment.objects.exists()
    assert AuditLog.objects.filter(action="portal.checkout_declined").count() == 1
    # A late success for a checkout Stripe itself failed is not posted.
    late = post(client, stripe_event("checkout.session.completed", stripe_session(checkout), event_id="evt_late"))
    assert late.content == b"duplicate" and not Payment.objects.exists()


def test_a_delayed_payment_posts_when_it_settles(client, checkout):
    """A bank debit completes the session unpaid; the async_payment_succeeded event posts it."""
    unpaid = stripe_session(checkout, payment_status="unpaid")
    assert post(client, stripe_event("checkout.session.completed", unpaid, event_id="evt_1")).content == b"ignored"
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING
    settled = post(client, stripe_event("checkout.session.async_payment_succeeded", stripe_session(checkout), event_id="evt_2"))
    assert settled.content == b"posted" and Payment.objects.count() == 1


def test_an_amount_other_than_the_one_started_is_refused(client, checkout):
    response = post(client, stripe_event("checkout.session.completed", stripe_session(checkout, amount_total=100)))
    assert (response.status_code, response.content) == (200, b"refused")
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.REFUSED and "1.00" in checkout.failure_reason
    assert not Payment.objects.exists()


def test_events_about_something_else_are_recorded_and_ignored(client, checkout):
    body = json.dumps({"id": "evt_pi", "object": "event", "api_version": "2025-09-30.clover", "created": int(time.time()),
                       "data": {"object": {"id": "pi_3Qx", "object": "payment_intent", "amount": 12345, "currency": "eur",
                                           "metadata": {"order": checkout.order}, "status": "succeeded"}},
                       "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
                       "type": "payment_intent.succeeded"}).encode()
    response = post(client, body)
    assert (response.status_code, response.content) == (200, b"ignored")
    assert ProviderEvent.objects.get().detail == {"type": "payment_intent.succeeded"}
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING and not Payment.objects.exists()


# --- begin: the Checkout Session request, sent to an offline HTTP client ----------------------


class OfflineStripe(stripe.HTTPClient):
    """Answers every request with a canned Checkout Session and keeps what was sent."""

    name = "offline"

    def __init__(self, answer: dict) -> None:
        super().__init__()
        self.answer = answer
        self.calls: list[tuple[str, str, dict, str]] = []

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        self.calls.append((method, url, dict(headers or {}), post_data or ""))
        return json.dumps(self.answer), 200, {"Request-Id": "req_offline", "Content-Type": "application/json"}

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("language", "locale"), [("es", "es"), ("en", "en"), ("fr", "auto")])
def test_begin_creates_a_checkout_session_for_the_checkout(checkout, language, locale):
    answer = stripe_session(checkout, payment_status="unpaid", status="open")
    http = OfflineStripe(answer)
    success, cancel = f"https://crm.example.com/p/payment/{checkout.public_id}/", f"https://crm.example.com/p/payment/{checkout.public_id}/cancel/"
    redirect = StripeProvider(http_client=http).begin(
        checkout=checkout, success_url=success, cancel_url=cancel, notify_url="https://crm.example.com/webhooks/payments/stripe/",
        language=language, description="Pago del expediente REF-1")

    assert redirect.url == answer["url"] and redirect.provider_ref == answer["id"] and not redirect.fields
    [(method, url, headers, body)] = http.calls
    assert (method, url) == ("post", "https://api.stripe.com/v1/checkout/sessions")
    assert headers["Authorization"] == f"Bearer {STRIPE_SECRET_KEY}"
    assert headers["Idempotency-Key"] == f"checkout-{checkout.public_id}"
    assert dict(parse_qsl(body)) == {
        "mode": "payment",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "12345",
        "line_items[0][price_data][product_data][name]": "Pago del expediente REF-1",
        "client_reference_id": checkout.order,
        "metadata[order]": checkout.order,
        "payment_intent_data[metadata][order]": checkout.order,
        "success_url": success,
        "cancel_url": cancel,
        "locale": locale,
    }


def test_the_provider_is_the_configured_one_and_names_stripes_checkout_host():
    provider = get_provider()
    assert isinstance(provider, StripeProvider) and provider.name == "stripe"
    assert provider.form_action_hosts() == ["https://checkout.stripe.com"]


def test_amounts_are_counted_in_the_currencys_smallest_unit():
    assert to_minor_units(Decimal("123.45"), "EUR") == 12345
    assert to_minor_units(Decimal("0.01"), "usd") == 1
    assert to_minor_units(Decimal("1500.00"), "JPY") == 1500
    assert to_minor_units(Decimal("1.50"), "KWD") == 1500
    with pytest.raises(ValueError):
        to_minor_units(Decimal("10.50"), "JPY")
    assert from_minor_units(12345, "EUR") == Decimal("123.45")
    assert from_minor_units(1500, "JPY") == Decimal("1500.00")
