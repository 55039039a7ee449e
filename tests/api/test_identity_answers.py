"""The debtor's identity answers for the self-service portal through the API: read, written on
create and update, validated (no birth date in the future, a postal code of up to 12 characters),
and audited without their values."""

from __future__ import annotations

import datetime as dt

import pytest

from collections_crm.audit.models import AuditLog
from debtors.models import Debtor
from debtors.validators import dni_for

pytestmark = pytest.mark.django_db


def test_update_reads_and_writes_the_identity_answers(api, agent, cases):
    client = api(agent)
    url = f"/api/v1/debtors/{cases['a'].debtor_id}/"
    response = client.get(url)
    assert response.json()["postal_code"] == "" and response.json()["birth_date"] is None
    response = client.patch(url, {"postal_code": "28013", "birth_date": "1985-03-05"}, format="json", HTTP_IF_MATCH=response["ETag"])
    assert response.status_code == 200, response.json()
    assert (response.json()["postal_code"], response.json()["birth_date"]) == ("28013", "1985-03-05")
    debtor = Debtor.objects.get(pk=cases["a"].debtor_id)
    assert (debtor.postal_code, debtor.birth_date) == ("28013", dt.date(1985, 3, 5))
    assert AuditLog.objects.get(action="debtor.updated").after == {"postal_code": "…", "birth_date": "…"}


@pytest.mark.parametrize(("body", "field"), [
    ({"birth_date": (dt.date.today() + dt.timedelta(days=1)).isoformat()}, "birth_date"),
    ({"birth_date": "05/03/1985"}, "birth_date"),
    ({"postal_code": "1234567890123"}, "postal_code"),
])
def test_bad_answers_are_refused_and_nothing_is_written(api, agent, cases, body, field):
    client = api(agent)
    url = f"/api/v1/debtors/{cases['a'].debtor_id}/"
    response = client.patch(url, body, format="json", HTTP_IF_MATCH=client.get(url)["ETag"])
    assert response.status_code == 400 and field in response.json()
    debtor = Debtor.objects.get(pk=cases["a"].debtor_id)
    assert (debtor.postal_code, debtor.birth_date) == ("", None)
    assert not AuditLog.objects.filter(action="debtor.updated").exists()


def test_a_case_opened_with_a_new_debtor_takes_the_answers(api, admin_user, creditor_a):
    client = api(admin_user)
    body = {"creditor": creditor_a.pk, "reference": "API-9", "original_amount": "250.00", "due_date": "2025-01-31",
            "debtor": {"document_type": "dni", "document_number": dni_for(44556677), "name": "Rosa Gil",
                       "postal_code": "08001", "birth_date": "1970-12-31"}}
    response = client.post("/api/v1/cases/", body, format="json")
    assert response.status_code == 201, response.json()
    debtor = Debtor.objects.get()
    assert (debtor.postal_code, debtor.birth_date) == ("08001", dt.date(1970, 12, 31))
    future = {**body, "reference": "API-10", "debtor": {**body["debtor"], "document_number": dni_for(44556678),
                                                       "birth_date": "2999-01-01"}}
    response = client.post("/api/v1/cases/", future, format="json")
    assert response.status_code == 400 and Debtor.objects.count() == 1
