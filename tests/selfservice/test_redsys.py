"""Redsys: the signed payment form ``begin`` returns, and notifications signed with Redsys's
published test key (by the algorithm, independently of the library) posted to our endpoint."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest

from cases.models import Case, Payment
from collections_crm.selfservice.models import CallbackOutcome, Checkout, CheckoutStatus, ProviderEvent
from collections_crm.selfservice.providers import get_provider
from collections_crm.selfservice.providers.redsys import RedsysProvider
from tests.factories import CaseFactory

from .factories_pay import (
    REDSYS_TEST_KEY,
    REDSYS_TEST_MERCHANT,
    checkout_for,
    form_body,
    redsys_notification,
    redsys_operation_key,
    redsys_signature,
)

pytestmark = pytest.mark.django_db

URL = "/webhooks/payments/redsys/"


@pytest.fixture(autouse=True)
def redsys_settings(settings):
    settings.CRM_PAYMENT_PROVIDER = "redsys"
    settings.REDSYS_MERCHANT_CODE = REDSYS_TEST_MERCHANT
    settings.REDSYS_TERMINAL = "1"
    settings.REDSYS_SECRET_KEY = REDSYS_TEST_KEY
    settings.REDSYS_ENVIRONMENT = "test"
    return settings


@pytest.fixture
def checkout(db):
    return checkout_for(CaseFactory(balance=Decimal("1000.00")), provider="redsys", amount="123.45", order="2612AB7K9XQZ")


def post(client, form: dict[str, str], **extra):
    return client.post(URL, data=form_body(form), content_type="application/x-www-form-urlencoded", **extra)


def test_the_operation_key_matches_a_published_known_answer():
    # 3DES of "012345678" under the test key, as published with Redsys client libraries' tests.
    assert redsys_operation_key("012345678") == base64.b64decode("ub0/L8+E9+9ITQJwk3SvHA==")


def test_an_authorised_payment_posts_once(client, checkout):
    form = redsys_notification(checkout)
    response = post(client, form)
    assert (response.status_code, response.content) == (200, b"posted")
    payment = Payment.objects.get()
    assert (payment.amount, payment.method, payment.reference) == (Decimal("123.45"), "card", f"redsys {checkout.order}")
    assert Case.objects.get(pk=checkout.case_id).balance == Decimal("876.55")
    checkout.refresh_from_db()
    assert (checkout.status, checkout.payment, checkout.provider_ref) == (CheckoutStatus.PAID, payment, "091538")
    event = ProviderEvent.objects.get()
    assert (event.event_id, event.outcome, event.signature_valid) == (f"{checkout.order}:0000:091538", CallbackOutcome.POSTED, True)
    assert event.detail == {"type": "transaction_type_0", "status": "0000"}

    # Redsys repeats a notification it got no answer to; a replay is the same form again.
    again = post(client, form)
    assert (again.status_code, again.content) == (200, b"duplicate")
    assert Payment.objects.count() == 1 and ProviderEvent.objects.count() == 1
    assert Case.objects.get(pk=checkout.case_id).balance == Decimal("876.55")


def test_a_signature_in_standard_base64_verifies_too(client, checkout):
    form = redsys_notification(checkout)
    form["Ds_Signature"] = redsys_signature(checkout.order, form["Ds_MerchantParameters"], urlsafe=False)
    assert post(client, form).content == b"posted"


@pytest.mark.parametrize("code", ["0190", "0180", "9915", "0101"])
def test_a_declined_payment_fails_the_checkout(client, checkout, code):
    response = post(client, redsys_notification(checkout, response=code))
    assert (response.status_code, response.content) == (200, b"declined")
    checkout.refresh_from_db()
    assert (checkout.status, checkout.failure_reason) == (CheckoutStatus.FAILED, code)
    assert not Payment.objects.exists()


def _tampered_amount(form: dict[str, str]) -> dict[str, str]:
    params = json.loads(base64.b64decode(form["Ds_MerchantParameters"]))
    params["Ds_Amount"] = "1"
    return {**form, "Ds_MerchantParameters": base64.b64encode(json.dumps(params).encode()).decode()}


@pytest.mark.parametrize("forge", [
    pytest.param(lambda c: redsys_notification(c, key=base64.b64encode(b"another merchant key 24b").decode()), id="other-key"),
    pytest.param(lambda c: _tampered_amount(redsys_notification(c)), id="amount-changed-after-signing"),
    pytest.param(lambda c: {**redsys_notification(c), "Ds_Signature": ""}, id="no-signature"),
    pytest.param(lambda c: {**redsys_notification(c), "Ds_SignatureVersion": "HMAC_SHA512_V2"}, id="other-version"),
    pytest.param(lambda c: {**redsys_notification(c), "Ds_MerchantParameters": "not base64 json"}, id="garbage"),
    pytest.param(lambda c: {}, id="empty"),
])
def test_a_forged_notification_is_refused_and_recorded(client, checkout, forge):
    response = post(client, forge(checkout))
    assert (response.status_code, response.content) == (400, b"forged")
    event = ProviderEvent.objects.get()
    assert (event.provider, event.event_id, event.signature_valid, event.outcome) == ("redsys", None, False, CallbackOutcome.FORGED)
    assert not Payment.objects.exists()
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PENDING


def test_an_amount_or_currency_other_than_the_one_started_is_refused(client, checkout):
    response = post(client, redsys_notification(checkout, amount_cents=100))
    assert response.content == b"refused"
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.REFUSED and not Payment.objects.exists()
    other = checkout_for(checkout.case, provider="redsys", amount="10.00", order="2612CURRENCY")
    assert post(client, redsys_notification(other, currency="840")).content == b"refused"


def test_a_refund_made_in_redsys_console_is_not_a_decline(client, checkout):
    assert post(client, redsys_notification(checkout)).content == b"posted"
    refund = redsys_notification(checkout, response="0900", transaction_type="3", authorisation="091538")
    assert post(client, refund).content == b"ignored"
    assert Checkout.objects.get(pk=checkout.pk).status == CheckoutStatus.PAID and Payment.objects.count() == 1


# --- begin: the form the debtor's browser posts to Redsys -------------------------------------


def _params(fields) -> dict:
    return {key.upper(): value for key, value in json.loads(base64.b64decode(fields["Ds_MerchantParameters"])).items()}


@pytest.mark.parametrize(("language", "code"), [("es", 1), ("en", 2)])
def test_begin_returns_a_form_signed_as_redsys_verifies_it(checkout, language, code):
    redirect = RedsysProvider().begin(
        checkout=checkout, success_url="https://crm.example.com/p/payment/x/", cancel_url="https://crm.example.com/p/payment/x/cancel/",
        notify_url="https://crm.example.com/webhooks/payments/redsys/", language=language, description="Pago REF-1")
    assert redirect.url == "https://sis-t.redsys.es:25443/sis/realizarPago" and redirect.provider_ref == ""
    fields = dict(redirect.fields)
    assert set(fields) == {"Ds_SignatureVersion", "Ds_MerchantParameters", "Ds_Signature"}
    assert fields["Ds_SignatureVersion"] == "HMAC_SHA256_V1"
    # Redsys recomputes the signature with the merchant's key over the parameters as sent.
    assert fields["Ds_Signature"] == redsys_signature(checkout.order, fields["Ds_MerchantParameters"], urlsafe=False)
    params = _params(fields)
    assert {k: str(v) for k, v in params.items() if k != "DS_MERCHANT_PRODUCTDESCRIPTION"} == {
        "DS_MERCHANT_AMOUNT": "12345",
        "DS_MERCHANT_ORDER": checkout.order,
        "DS_MERCHANT_MERCHANTCODE": REDSYS_TEST_MERCHANT,
        "DS_MERCHANT_CURRENCY": "978",
        "DS_MERCHANT_TRANSACTIONTYPE": "0",
        "DS_MERCHANT_TERMINAL": "1",
        "DS_MERCHANT_MERCHANTURL": "https://crm.example.com/webhooks/payments/redsys/",
        "DS_MERCHANT_URLOK": "https://crm.example.com/p/payment/x/",
        "DS_MERCHANT_URLKO": "https://crm.example.com/p/payment/x/cancel/",
        "DS_MERCHANT_CONSUMERLANGUAGE": str(code),
    }
    assert params["DS_MERCHANT_PRODUCTDESCRIPTION"] == "Pago REF-1"


def test_the_environment_chooses_the_endpoint(settings, checkout):
    provider = get_provider()
    assert isinstance(provider, RedsysProvider)
    assert provider.form_action_hosts() == ["https://sis-t.redsys.es:25443"]
    settings.REDSYS_ENVIRONMENT = "live"
    assert provider.form_action_hosts() == ["https://sis.redsys.es"]
    redirect = provider.begin(checkout=checkout, success_url="https://a/ok", cancel_url="https://a/ko", notify_url="https://a/n",
                              language="es", description="")
    assert redirect.url == "https://sis.redsys.es/sis/realizarPago"
    assert "DS_MERCHANT_PRODUCTDESCRIPTION" not in _params(redirect.fields)


def test_bizum_is_asked_of_redsys_by_its_pay_method(checkout):
    type(checkout).objects.filter(pk=checkout.pk).update(method="bizum")
    checkout.refresh_from_db()
    redirect = RedsysProvider().begin(checkout=checkout, success_url="https://a/ok", cancel_url="https://a/ko",
                                      notify_url="https://a/n", language="es", description="")
    fields = dict(redirect.fields)
    assert _params(fields)["DS_MERCHANT_PAYMETHODS"] == "z"
    assert fields["Ds_Signature"] == redsys_signature(checkout.order, fields["Ds_MerchantParameters"], urlsafe=False)
    card = checkout_for(CaseFactory(balance=Decimal("50.00")), provider="redsys", amount="10.00", order="2612CARD0001")
    assert "DS_MERCHANT_PAYMETHODS" not in _params(RedsysProvider().begin(
        checkout=card, success_url="https://a/ok", cancel_url="https://a/ko", notify_url="https://a/n", language="es",
        description="").fields)
