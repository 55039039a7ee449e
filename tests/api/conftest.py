from __future__ import annotations

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from collections_crm.api.services import api_token_create
from tests.factories import CaseFactory, CreditorFactory


@pytest.fixture
def creditor_a(db):
    return CreditorFactory(code="acreedor-a", name="Acreedor A")


@pytest.fixture
def creditor_b(db):
    return CreditorFactory(code="acreedor-b", name="Acreedor B")


@pytest.fixture
def cases(creditor_a, creditor_b, agent, outsider):
    """case_a: creditor A, the agent's; case_a2: creditor A, another team's; case_b: creditor B, the agent's."""
    return {
        "a": CaseFactory(creditor=creditor_a, assigned_agent=agent, reference="A-1", balance=Decimal("1000.00")),
        "a2": CaseFactory(creditor=creditor_a, assigned_agent=outsider, reference="A-2"),
        "b": CaseFactory(creditor=creditor_b, assigned_agent=agent, reference="B-1"),
    }


@pytest.fixture
def make_token(admin_user):
    def _make(creditor, *, can_write: bool = False, user=None):
        token, raw = api_token_create(actor=admin_user, name=f"{creditor.code}-{can_write}", creditor=creditor,
                                      user=user or admin_user, can_write=can_write)
        return token, raw

    return _make


@pytest.fixture
def api():
    """An API client: ``api(user)`` for a session, ``api(token=raw)`` for a token, ``api()`` anonymous."""

    def _client(user=None, *, token: str | None = None, csrf: bool = False):
        client = APIClient(enforce_csrf_checks=csrf)
        if user is not None:
            client.force_login(user)
        if token:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client

    return _client
