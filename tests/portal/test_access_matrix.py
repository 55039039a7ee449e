"""Every portal URL against the four visitors the portal must tell apart: a debtor with a valid
(verified) link, a session whose link expired, another debtor's verified link, and no link at all.
A new portal URL fails this test until it is added to the matrix."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import get_resolver, reverse
from django.utils import timezone

from collections_crm.selfservice.links import link_issue
from collections_crm.selfservice.models import Checkout, PortalLink
from tests.factories import CaseFactory, DebtorFactory

from .conftest import open_and_verify

pytestmark = pytest.mark.django_db

# name -> (needs the case, needs a checkout, what the valid debtor gets on GET)
MATRIX = {
    "start": (False, False, 200),
    "open": (False, False, None),  # takes a token: tested on its own below
    "verify": (False, False, 302),  # already verified: on to the cases
    "ended": (False, False, 200),
    "leave": (False, False, 405),  # POST only
    "home": (False, False, 302),  # one case: straight to it
    "case": (True, False, 200),
    "pay": (True, False, 200),
    "promise": (True, False, 200),
    "plan": (True, False, 200),
    "documents": (True, False, 200),
    "statement": (True, False, 200),
    "dispute": (True, False, 200),
    "preferences": (True, False, 200),
    "payment_return": (False, True, 200),
    "payment_cancel": (False, True, 302),
    "sandbox_checkout": (False, True, 200),
}
PUBLIC = {"start", "ended", "leave", "open"}


def test_the_matrix_names_every_portal_url():
    _prefix, resolver = get_resolver().namespace_dict["portal"]
    assert {p.name for p in resolver.url_patterns} == set(MATRIX)


@pytest.fixture
def world(portal_case, issued):
    checkout = Checkout.objects.create(order="2612ABCDEFGH", case=portal_case, link=issued.link, provider="sandbox",
                                       amount=portal_case.balance, currency="EUR", created_at=timezone.now())
    other_debtor = DebtorFactory(document_number="87654321X", postal_code="08001")
    other_case = CaseFactory(debtor=other_debtor, creditor=portal_case.creditor)
    return {"case": portal_case, "checkout": checkout, "other": link_issue(case_id=other_case.pk, source="sms")}


def _url(name: str, world) -> str:
    needs_case, needs_checkout, _expected = MATRIX[name]
    if needs_case:
        return reverse(f"portal:{name}", args=[world["case"].pk])
    if needs_checkout:
        return reverse(f"portal:{name}", args=[world["checkout"].public_id])
    return reverse(f"portal:{name}")


NAMES = [n for n in MATRIX if n != "open"]


@pytest.mark.parametrize("name", NAMES)
def test_debtor_with_a_valid_link(client, issued, world, name):
    open_and_verify(client, issued)
    response = client.get(_url(name, world))
    assert response.status_code == MATRIX[name][2], response.content[:500]


@pytest.mark.parametrize("name", NAMES)
def test_no_link(client, world, name):
    response = client.get(_url(name, world))
    if name in PUBLIC:
        assert response.status_code in (200, 405)
    else:
        assert response.status_code == 302 and response.url == reverse("portal:start")
    assert world["case"].reference.encode() not in response.content


@pytest.mark.parametrize("name", NAMES)
def test_expired_link(client, issued, world, name):
    open_and_verify(client, issued)
    PortalLink.objects.filter(pk=issued.link.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(_url(name, world))
    if name in PUBLIC:
        assert response.status_code in (200, 405)
    else:
        assert response.status_code == 302 and response.url == reverse("portal:ended")
    assert world["case"].reference.encode() not in response.content


@pytest.mark.parametrize("name", NAMES)
def test_another_debtors_link(client, world, name):
    response = open_and_verify(client, world["other"], document_end="321X", postal_code="08001")
    assert response.status_code == 302
    response = client.get(_url(name, world))
    expected = MATRIX[name][2]
    if MATRIX[name][0] or MATRIX[name][1]:
        assert response.status_code == 404
    else:
        assert response.status_code == expected
    assert world["case"].reference.encode() not in response.content
    # Posting to the first debtor's case does nothing either.
    if MATRIX[name][0] or MATRIX[name][1]:
        assert client.post(_url(name, world), {"amount": "10", "action": "pay"}).status_code == 404


def test_open_link_states(client, issued, world):
    path = "/" + issued.url.split("/", 3)[3]
    assert client.get(path).status_code == 302
    assert client.get("/p/o/not-a-token/").url == reverse("portal:ended")
    PortalLink.objects.filter(pk=issued.link.pk).update(revoked_at=timezone.now())
    fresh = client.__class__()
    response = fresh.get(path)
    assert response.url == reverse("portal:ended")
    assert fresh.get(reverse("portal:ended")).status_code == 410


def test_links_stop_when_the_debtor_asks_to_stop(client, issued, world, debtor):
    open_and_verify(client, issued)
    debtor.cease_communication = True
    debtor.save(update_fields=["cease_communication"])
    response = client.get(reverse("portal:case", args=[world["case"].pk]))
    assert response.status_code == 302 and response.url == reverse("portal:ended")


def test_links_stop_when_the_case_closes(client, issued, world):
    open_and_verify(client, issued)
    type(world["case"]).objects.filter(pk=world["case"].pk).update(status="closed")
    response = client.get(reverse("portal:case", args=[world["case"].pk]))
    assert response.status_code == 302 and response.url == reverse("portal:ended")


def test_every_portal_form_needs_csrf(issued, world):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    open_and_verify_csrf = client.get("/" + issued.url.split("/", 3)[3])
    assert open_and_verify_csrf.status_code == 302
    assert client.post(reverse("portal:verify"), {"document_end": "678Z", "postal_code": "28013"}).status_code == 403
    assert client.post(reverse("portal:start"), {"code": "AAAAA-BBBBB"}).status_code == 403
