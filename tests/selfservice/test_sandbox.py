"""The embedded sandbox provider's signed callbacks, through our endpoint: forged, too old,
replayed, declined, the wrong amount, and a payment the case can no longer take."""

from __future__ import annotations

import hashlib
import hmac
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from cases.models import Case, Payment
from cases.services import payment_post
from collections_crm.selfservice.models import CallbackOutcome, Checkout, CheckoutStatus, ProviderEvent
from collections_crm.selfservice.payments import checkout_start
from collections_crm.selfservice.providers import sandbox
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db

URL = "/webhooks/payments/sandbox/"


@pytest.fixture(autouse=True)
def sandbox_settings(settings):
    settings.CRM_PAYMENT_PROVIDER = "sandbox"
    settings.CRM_SANDBOX_SECRET = "sandbox-test-secret"


@pytest.fixture
def case(db):
    return CaseFactory(balance=Decimal("1000.00"))


@pytest.fixture
def checkout(case):
    return checkout_start(case_id=case.pk, link_id=None, amount=Decimal("250.00"))


def body_for(checkout: Checkout, *, paid: bool = True, amount: Decimal | None = None, event_id: str = "sbx_1") -> bytes:
    return sandbox.callback_body(event_id=event_id, order=checkout.order, paid=paid,
                                 amount=checkout.amount if amount is None else amount, currency=checkout.currency)


def post(client, body: bytes, signature: str | None = None):
    return client.post(URL, data=body, content_type="application/json",
                       HTTP_X_SANDBOX_SIGNATURE=sandbox.sign(body) if signature is None else signature)


def test_a_paid_callback_posts_once_and_a_replay_nothing(client, case, checkout):
    body = body_for(checkout)
    assert post(client, body).content == b"posted"
    assert post(client, body).content == b"duplicate"
    assert Payment.objects.filter(case=case).count() == 1
    assert Case.objects.get(pk=case.pk).balance == Decimal("750.00")
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PAID


@pytest.mark.parametrize("signature", [
    pytest.param(lambda body: "t={t},v1={mac}".format(t=int(time.time()), mac=hmac.new(
        b"not-our-secret", f"{int(time.time())}.".encode() + body, hashlib.sha256).hexdigest()), id="other-secret"),
    pytest.param(lambda body: sandbox.sign(body, timestamp=int(time.time()) - sandbox.TOLERANCE_SECONDS - 1), id="too-old"),
    pytest.param(lambda body: sandbox.sign(body + b" "), id="other-body"),
    pytest.param(lambda body: "v1=abc", id="no-timestamp"),
])
def test_a_forged_or_stale_callback_is_refused(client, checkout, signature):
    body = body_for(checkout)
    response = post(client, body, signature=signature(body))
    assert (response.status_code, response.content) == (400, b"forged")
    assert ProviderEvent.objects.get().outcome == CallbackOutcome.FORGED
    assert not Payment.objects.exists() and Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING


def test_a_declined_callback_fails_the_checkout(client, checkout):
    assert post(client, body_for(checkout, paid=False)).content == b"declined"
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.FAILED and not Payment.objects.exists()


def test_a_confirmation_of_another_amount_is_refused(client, checkout):
    assert post(client, body_for(checkout, amount=Decimal("25.00"))).content == b"refused"
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.REFUSED and "25.00" in checkout.failure_reason
    assert not Payment.objects.exists()


def test_a_payment_larger_than_the_balance_left_meanwhile_is_refused(client, case, agent):
    """The debtor starts paying 600; an agent posts a 500 transfer before the provider confirms:
    the case can take only 500 more, so the checkout is refused (to refund) and nothing posted."""
    checkout = checkout_start(case_id=case.pk, link_id=None, amount=Decimal("600.00"))
    payment_post(actor=agent, case_id=case.pk, amount=Decimal("500.00"), received_on=timezone.localdate())
    response = post(client, body_for(checkout))
    assert (response.status_code, response.content) == (200, b"refused")
    checkout.refresh_from_db()
    assert checkout.status == CheckoutStatus.REFUSED and checkout.payment is None
    assert "500,00" in checkout.failure_reason  # the balance it met (in the default language, es)
    assert Payment.objects.filter(case=case).count() == 1  # the agent's transfer only
    assert Case.objects.get(pk=case.pk).balance == Decimal("500.00")
    assert ProviderEvent.objects.get().outcome == CallbackOutcome.REFUSED
