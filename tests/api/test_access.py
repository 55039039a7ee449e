"""Who may read and write what through the API: roles, teams and creditor-scoped tokens."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from cases.models import Payment
from collections_crm.api.models import ApiToken, hash_token
from collections_crm.api.services import api_token_revoke
from collections_crm.audit.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "persona,visible",
    [("agent", {"a", "b"}), ("teammate", set()), ("outsider", {"a2"}), ("supervisor", {"a", "b"}), ("admin_user", {"a", "a2", "b"})],
)
def test_session_users_see_the_cases_the_pages_show_them(request, api, cases, persona, visible):
    client = api(request.getfixturevalue(persona))
    listed = {r["reference"] for r in client.get("/api/v1/cases/").json()["results"]}
    assert listed == {cases[k].reference for k in visible}
    for key, case in cases.items():
        expected = 200 if key in visible else 404
        assert client.get(f"/api/v1/cases/{case.pk}/").status_code == expected, (persona, key)


def test_a_token_sees_only_its_creditor(api, cases, make_token, creditor_a, creditor_b):
    _token, raw = make_token(creditor_a)
    client = api(token=raw)
    assert {r["reference"] for r in client.get("/api/v1/cases/").json()["results"]} == {"A-1", "A-2"}
    assert client.get(f"/api/v1/cases/{cases['b'].pk}/").status_code == 404
    assert client.get(f"/api/v1/debtors/{cases['b'].debtor_id}/").status_code == 404
    assert client.get(f"/api/v1/debtors/{cases['a'].debtor_id}/").status_code == 200
    assert [c["code"] for c in client.get("/api/v1/creditors/").json()["results"]] == ["acreedor-a"]
    assert client.get(f"/api/v1/creditors/{creditor_b.pk}/").status_code == 404
    # Related records follow the case.
    Payment.objects.create(case=cases["b"], amount=Decimal("5.00"), received_on=timezone.localdate(), created_at=timezone.now())
    assert client.get("/api/v1/payments/").json()["count"] == 0


def test_a_token_is_also_bound_by_its_users_rights(api, cases, make_token, creditor_a, agent):
    _token, raw = make_token(creditor_a, user=agent)
    assert {r["reference"] for r in api(token=raw).get("/api/v1/cases/").json()["results"]} == {"A-1"}


def test_read_tokens_cannot_write_and_write_tokens_cannot_reach_another_creditor(api, cases, make_token, creditor_a):
    _read, raw_read = make_token(creditor_a)
    _write, raw_write = make_token(creditor_a, can_write=True)
    body = {"case": cases["a"].pk, "amount": "10.00", "received_on": timezone.localdate().isoformat()}
    assert api(token=raw_read).post("/api/v1/payments/", body, format="json").status_code == 403
    response = api(token=raw_write).post("/api/v1/payments/", {**body, "case": cases["b"].pk}, format="json")
    assert response.status_code == 400 and "case" in response.json()
    assert Payment.objects.count() == 0
    assert api(token=raw_write).post("/api/v1/payments/", body, format="json").status_code == 201
    assert Payment.objects.get().posted_by.username == "boss"


def test_tokens_are_stored_hashed_and_revocable(api, cases, make_token, creditor_a, admin_user):
    token, raw = make_token(creditor_a)
    assert raw not in str(ApiToken.objects.filter(pk=token.pk).values().get())
    assert token.key_hash == hash_token(raw)
    assert api(token=raw).get("/api/v1/cases/").status_code == 200
    api_token_revoke(actor=admin_user, token_id=token.pk)
    assert api(token=raw).get("/api/v1/cases/").status_code == 401
    assert api(token="crm_not-a-real-token").get("/api/v1/cases/").status_code == 401
    assert AuditLog.objects.filter(action__in=["api_token.created", "api_token.revoked"], object_id=str(token.pk)).count() == 2


def test_only_admins_manage_tokens(agent, creditor_a):
    from django.core.exceptions import ValidationError

    from collections_crm.api.services import api_token_create

    with pytest.raises(ValidationError):
        api_token_create(actor=agent, name="x", creditor=creditor_a, user=agent)


def test_anonymous_gets_401_not_the_login_page(api, cases):
    response = api().get("/api/v1/cases/")
    assert response.status_code in (401, 403)
    assert response["Content-Type"].startswith("application/json")


def test_agents_cannot_open_cases_and_cannot_write_cases_they_only_see(api, cases, agent, teammate, creditor_a):
    body = {"creditor": creditor_a.pk, "debtor_id": cases["a"].debtor_id, "reference": "N-1", "original_amount": "10.00", "due_date": "2025-01-01"}
    assert api(agent).post("/api/v1/cases/", body, format="json").status_code == 403
    teammate.team.agents_see_team_cases = True
    teammate.team.save()
    client = api(teammate)
    assert client.get(f"/api/v1/cases/{cases['a'].pk}/").status_code == 200
    assert client.patch(f"/api/v1/cases/{cases['a'].pk}/", {"next_action_note": "x"}, format="json", HTTP_IF_MATCH='"1"').status_code == 404
    body = {"case": cases["a"].pk, "amount": "10.00", "received_on": timezone.localdate().isoformat()}
    assert client.post("/api/v1/payments/", body, format="json").status_code == 400


def test_session_writes_need_the_csrf_token(api, cases, agent):
    body = {"case": cases["a"].pk, "amount": "10.00", "received_on": timezone.localdate().isoformat()}
    assert api(agent, csrf=True).post("/api/v1/payments/", body, format="json").status_code == 403
    assert Payment.objects.count() == 0


def test_tokens_are_rate_limited(api, cases, make_token, creditor_a, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_token": "3/min", "api_session": "3/min"}}
    _token, raw = make_token(creditor_a)
    client = api(token=raw)
    assert [client.get("/api/v1/cases/").status_code for _ in range(4)] == [200, 200, 200, 429]
    cache.clear()


def test_every_api_view_is_public_to_the_login_middleware_but_not_to_drf():
    from django.urls import get_resolver

    resolver = get_resolver()
    for pattern in resolver.url_patterns:
        if str(pattern.pattern) == "api/v1/":
            for sub in pattern.url_patterns:
                if sub.name != "docs":
                    assert getattr(sub.callback, "login_required", True) is False, sub.name


def test_follow_ups_are_read_only_and_follow_case_visibility(api, cases, make_token, creditor_a, agent, outsider):
    from contacts.engine import followups_plan
    from contacts.models import FollowUp

    followups_plan(case_ids=[c.pk for c in cases.values()], now=timezone.now())
    assert FollowUp.objects.filter(case=cases["b"]).exists() and FollowUp.objects.filter(case=cases["a"]).exists()
    _token, raw = make_token(creditor_a)
    seen = {f["case"] for f in api(token=raw).get("/api/v1/follow-ups/").json()["results"]}
    assert seen == {cases["a"].pk, cases["a2"].pk}
    seen = {f["case"] for f in api(outsider).get("/api/v1/follow-ups/").json()["results"]}
    assert seen == {cases["a2"].pk}
    followup = FollowUp.objects.filter(case=cases["b"]).first()
    assert api(token=raw).get(f"/api/v1/follow-ups/{followup.pk}/").status_code == 404
    assert api(agent).post("/api/v1/follow-ups/", {}, format="json").status_code == 405
    assert api(agent).get("/api/v1/messages/").status_code == 200


def test_imports_through_the_api_are_admin_only_and_creditor_scoped(api, admin_user, agent, make_token, creditor_a, creditor_b, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from collections_crm.imports.models import ImportJob
    from collections_crm.imports.services import import_job_run
    from tests.imports.test_loader import MESSY

    settings.MEDIA_ROOT = tmp_path
    _token, raw = make_token(creditor_a, can_write=True)
    client = api(token=raw)

    def body(creditor):
        return {"creditor": creditor.pk, "kind": "portfolio", "file": SimpleUploadedFile("c.csv", MESSY)}

    assert api(agent).post("/api/v1/imports/", body(creditor_a), format="multipart").status_code == 403
    assert client.post("/api/v1/imports/", body(creditor_b), format="multipart").status_code == 400
    response = client.post("/api/v1/imports/", body(creditor_a), format="multipart")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    job_id = response.json()["id"]
    import_job_run(job_id=job_id)
    assert client.get(f"/api/v1/imports/{job_id}/").json()["rows_created"] == 4
    errors = client.get(f"/api/v1/imports/{job_id}/errors/").json()
    # The rejections in file order, then the warnings (values imported as unusable).
    assert errors["count"] == 7 and errors["results"][0]["line"] == 4
    assert [e["severity"] for e in errors["results"]] == ["rejected"] * 5 + ["warning"] * 2
    other = ImportJob.objects.get(pk=job_id)
    other.pk = None
    other.creditor = creditor_b
    other.save()
    assert client.get(f"/api/v1/imports/{other.pk}/").status_code == 404
    assert client.get(f"/api/v1/imports/{other.pk}/errors/").status_code == 404


def test_an_import_can_be_previewed_and_started_later_through_the_api(api, agent, make_token, creditor_a, creditor_b, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from collections_crm.imports.models import ImportJob
    from tests.imports.test_loader import MESSY

    settings.MEDIA_ROOT = tmp_path
    _token, raw = make_token(creditor_a, can_write=True)
    client = api(token=raw)
    response = client.post("/api/v1/imports/", {"creditor": creditor_a.pk, "kind": "portfolio", "start": "false",
                                                "file": SimpleUploadedFile("c.csv", MESSY)}, format="multipart")
    assert response.status_code == 202 and response.json()["status"] == "uploaded"
    job_id = response.json()["id"]
    preview = client.get(f"/api/v1/imports/{job_id}/preview/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert preview["headers"][0] == "Referencia" and preview["mapping"]["reference"] == "Referencia"
    assert [(r["line"], r["ok"]) for r in preview["rows"]][:3] == [(2, True), (3, True), (4, False)]
    assert preview["rows"][2]["errors"] == [{"column": "DNI/NIF", "value": preview["rows"][2]["cells"][1], "message": "This is not a valid DNI number."}]
    # A bad mapping is a field error and starts nothing; a good one starts the import once.
    bad = client.post(f"/api/v1/imports/{job_id}/start/", {"mapping": {"reference": "Nope"}}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 400 and "mapping" in bad.json()
    assert ImportJob.objects.get(pk=job_id).status == "uploaded"
    started = client.post(f"/api/v1/imports/{job_id}/start/", {"all_or_nothing": True}, format="json")
    assert started.status_code == 202 and started.json()["status"] == "queued" and started.json()["all_or_nothing"] is True
    assert client.post(f"/api/v1/imports/{job_id}/start/", {}, format="json").status_code == 400  # already started
    # Another creditor's job is not there; agents may not.
    other = ImportJob.objects.get(pk=job_id)
    other.pk, other.creditor, other.status = None, creditor_b, "uploaded"
    other.save()
    assert client.get(f"/api/v1/imports/{other.pk}/preview/").status_code == 404
    assert client.post(f"/api/v1/imports/{other.pk}/start/", {}, format="json").status_code == 404
    assert api(agent).post(f"/api/v1/imports/{job_id}/start/", {}, format="json").status_code == 403
    assert api(agent).get(f"/api/v1/imports/{job_id}/preview/").status_code == 403


def test_seeing_a_debtor_is_not_enough_to_change_it(api, cases, teammate):
    teammate.team.agents_see_team_cases = True
    teammate.team.save()
    client = api(teammate)
    url = f"/api/v1/debtors/{cases['a'].debtor_id}/"
    etag = client.get(url)["ETag"]
    assert client.patch(url, {"notes": "x"}, format="json", HTTP_IF_MATCH=etag).status_code == 404
    assert client.post(f"{url}contact-points/", {"kind": "email", "value": "a@example.com"}, format="json").status_code == 404


def test_admins_create_and_revoke_tokens_in_the_admin(client, admin_user, creditor_a, api):
    client.force_login(admin_user)
    response = client.post("/django-admin/api/apitoken/add/", {"name": "Banco sync", "creditor": creditor_a.pk,
                                                              "user": admin_user.pk, "can_write": "on"}, follow=True)
    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    raw = next(word for m in shown for word in m.split() if word.startswith("crm_"))
    assert token.key_hash == hash_token(raw) and token.can_write and token.created_by == admin_user
    assert api(token=raw).get("/api/v1/cases/").status_code == 200
    client.post("/django-admin/api/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert api(token=raw).get("/api/v1/cases/").status_code == 401
