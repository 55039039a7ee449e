"""Idempotency keys: one key space per client across every creating endpoint, payments
included. A key reused by the same client on another endpoint is a 409, on the same endpoint
with another body a 422, and never makes a second record; another client's same key is its own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from cases.models import Case, Payment, PromiseToPay
from collections_crm.api.models import IdempotencyRecord
from contacts.models import ContactAttempt
from debtors.models import ContactPoint
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def today() -> dt.date:
    return timezone.localdate()


def counts() -> tuple[int, ...]:
    return (Payment.objects.count(), PromiseToPay.objects.count(), ContactAttempt.objects.count(), ContactPoint.objects.count(),
            Case.objects.count())


def creating_calls(cases) -> dict[str, tuple[str, dict]]:
    """One valid create call per creating endpoint, on creditor A's case of the agent."""
    case = cases["a"]
    return {
        "payment": ("/api/v1/payments/", {"case": case.pk, "amount": "10.00", "received_on": today().isoformat()}),
        "promise": ("/api/v1/promises/", {"case": case.pk, "amount": "20.00", "due_date": (today() + dt.timedelta(days=3)).isoformat()}),
        "attempt": ("/api/v1/contact-attempts/", {"case": case.pk, "channel": "sms", "outcome": "sent"}),
        "contact point": (f"/api/v1/debtors/{case.debtor_id}/contact-points/", {"kind": "email", "value": "otra@example.com"}),
        "case": ("/api/v1/cases/", {"creditor": case.creditor_id, "debtor_id": case.debtor_id, "reference": "IDEM-1",
                                    "original_amount": "100.00", "due_date": today().isoformat()}),
    }


@pytest.fixture
def token_client(api, make_token, creditor_a, admin_user):
    def _client():
        # (Acting as an admin: creating a case takes a supervisor or an admin.)
        _token, raw = make_token(creditor_a, can_write=True, user=admin_user)
        return api(token=raw)

    return _client


@pytest.mark.parametrize("first", ["payment", "promise", "attempt", "contact point", "case"])
def test_a_key_used_on_one_endpoint_is_refused_on_every_other(first, token_client, cases):
    client = token_client()
    calls = creating_calls(cases)
    path, body = calls[first]
    response = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="once-only")
    assert response.status_code == 201, response.json()
    before = counts()
    for name, (other_path, other_body) in calls.items():
        if name == first:
            continue
        refused = client.post(other_path, other_body, format="json", HTTP_IDEMPOTENCY_KEY="once-only", HTTP_ACCEPT_LANGUAGE="en")
        assert refused.status_code == 409, (name, refused.status_code, refused.json())
        assert "already used" in refused.json()["detail"]
    assert counts() == before  # no second record anywhere
    # The same call again replays the first answer.
    again = client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="once-only")
    assert again.status_code == 200 and again.json() == response.json() and counts() == before
    assert IdempotencyRecord.objects.filter(key="once-only").count() == 1


@pytest.mark.parametrize("name", ["payment", "promise"])
def test_the_same_key_with_another_body_on_the_same_endpoint_is_a_422(name, token_client, cases):
    client = token_client()
    path, body = creating_calls(cases)[name]
    assert client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1").status_code == 201
    before = counts()
    changed = client.post(path, {**body, "amount": "11.00"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1", HTTP_ACCEPT_LANGUAGE="en")
    assert changed.status_code == 422 and "different request body" in changed.json()["detail"]
    assert counts() == before


def test_another_clients_same_key_is_independent(token_client, api, agent, cases):
    """Two tokens (two integrations) and a browser session each have their own key space."""
    calls = creating_calls(cases)
    first, second = token_client(), token_client()
    assert first.post(*calls["payment"], format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert second.post(*calls["promise"], format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert api(agent).post(*calls["attempt"], format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 201
    assert second.post(*calls["payment"], format="json", HTTP_IDEMPOTENCY_KEY="shared").status_code == 409  # its own promise key
    assert (Payment.objects.count(), PromiseToPay.objects.count()) == (1, 1)
    assert IdempotencyRecord.objects.filter(key="shared").values("scope").distinct().count() == 3


def test_a_payment_posted_before_the_shared_records_still_holds_its_key(make_token, api, creditor_a, agent, cases):
    """A payment made with the key before this change has no key record; the key is still taken."""
    _token, raw = make_token(creditor_a, can_write=True, user=agent)
    client = api(token=raw)
    PaymentFactory(case=cases["a"], amount=Decimal("5.00"), idempotency_key=f"api:t{_token.pk}:old-key")
    before = counts()
    response = client.post(*creating_calls(cases)["promise"], format="json", HTTP_IDEMPOTENCY_KEY="old-key")
    assert response.status_code == 409 and counts() == before


def test_a_failed_call_does_not_take_the_key(token_client, cases):
    client = token_client()
    path, body = creating_calls(cases)["payment"]
    bad = client.post(path, {**body, "amount": "999999.00"}, format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    assert bad.status_code == 400 and not IdempotencyRecord.objects.filter(key="retry-me").exists()
    assert client.post(*creating_calls(cases)["promise"], format="json", HTTP_IDEMPOTENCY_KEY="retry-me").status_code == 201
