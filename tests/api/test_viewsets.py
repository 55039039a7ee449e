"""The read endpoints are viewsets on a router; what the separate list and detail views
answered, they still answer (the parts DRF's viewsets would otherwise change)."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

RECORDS = [
    ("creditor", "/api/v1/creditors/"), ("debtor", "/api/v1/debtors/"), ("case", "/api/v1/cases/"),
    ("attempt", "/api/v1/contact-attempts/"), ("promise", "/api/v1/promises/"), ("plan", "/api/v1/payment-plans/"),
    ("payment", "/api/v1/payments/"), ("followup", "/api/v1/follow-ups/"), ("message", "/api/v1/messages/"),
    ("import", "/api/v1/imports/"), ("template", "/api/v1/templates/"),
]


@pytest.mark.parametrize("basename,url", RECORDS)
def test_url_names_and_paths_are_those_of_the_views(basename, url):
    assert reverse(f"api:{basename}-list") == url
    assert reverse(f"api:{basename}-detail", args=[7]) == f"{url}7/"


def test_a_record_ignores_the_lists_filters_and_ordering(api, agent, cases):
    client = api(agent)
    assert client.get("/api/v1/cases/?status=nope").status_code == 400
    response = client.get(f"/api/v1/cases/{cases['a'].pk}/?status=nope&creditor=x&ordering=-id")
    assert response.status_code == 200 and response.json()["reference"] == "A-1"


def test_an_id_that_is_no_number_is_the_json_404_even_without_credentials(api):
    response = api().get("/api/v1/cases/abc/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_options_names_list_and_detail_as_before(api, admin_user, cases):
    client = api(admin_user)
    assert client.options("/api/v1/contact-attempts/").json()["name"] == "Contact Attempt List"
    assert client.options(f"/api/v1/cases/{cases['a'].pk}/").json()["name"] == "Case Detail"
    imports = client.options("/api/v1/imports/").json()
    assert imports["description"].startswith("Upload a portfolio") and imports["parses"] == ["multipart/form-data", "application/x-www-form-urlencoded"]
    detail = client.options("/api/v1/imports/1/").json()
    assert detail["description"] == "" and "application/json" in detail["parses"]


def test_roles_are_those_of_each_url(api, agent, cases):
    """Opening a case is for staff (403 for an agent on the list); the agent may write to a
    case, so a method the case does not take is a 405."""
    client = api(agent)
    assert client.post("/api/v1/cases/", {}, format="json").status_code == 403
    assert client.put("/api/v1/cases/", {}, format="json").status_code == 403
    assert client.put(f"/api/v1/cases/{cases['a'].pk}/", {}, format="json").status_code == 405
    assert client.delete(f"/api/v1/cases/{cases['a'].pk}/").status_code == 405
    assert client.get(f"/api/v1/cases/{cases['a'].pk}/", HTTP_ACCEPT="text/html").status_code == 200
