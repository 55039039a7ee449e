"""Portal fixtures: a debtor who can prove who they are, a personal link, a verified visit."""

from __future__ import annotations

import datetime as dt

import pytest

from collections_crm.selfservice.links import link_issue
from tests.factories import CaseFactory, ContactPointFactory, DebtorFactory

DOCUMENT = "12345678Z"
POSTAL = "28013"


@pytest.fixture(autouse=True)
def _private_files(tmp_path, settings):
    """Uploads land in a temporary folder, not the checkout's var/."""
    settings.CRM_PRIVATE_MEDIA_ROOT = tmp_path / "private"


@pytest.fixture
def debtor(db):
    debtor = DebtorFactory(document_number=DOCUMENT, postal_code=POSTAL, birth_date=dt.date(1980, 5, 17), language="es")
    ContactPointFactory(debtor=debtor, kind="email", value="ana@example.com")
    ContactPointFactory(debtor=debtor, kind="phone", value="+34600111222")
    return debtor


@pytest.fixture
def portal_case(debtor, agent):
    return CaseFactory(debtor=debtor, assigned_agent=agent)


@pytest.fixture
def issued(portal_case):
    return link_issue(case_id=portal_case.pk, source="email")


def open_and_verify(client, issued, *, document_end=DOCUMENT[-4:], postal_code=POSTAL):
    path = issued.url.split("://", 1)[1].split("/", 1)[1]
    response = client.get("/" + path)
    assert response.status_code == 302 and response.url.endswith("/p/verify/")
    return client.post("/p/verify/", {"document_end": document_end, "postal_code": postal_code})


@pytest.fixture
def visit(client, issued):
    response = open_and_verify(client, issued)
    assert response.status_code == 302, response.content[:2000]
    return client
