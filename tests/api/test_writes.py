"""Creating and updating through the API: the services' rules, idempotency and versions."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from cases.models import Case, Payment, PromiseToPay
from collections_crm.api.models import IdempotencyRecord
from collections_crm.audit.models import AuditLog
from debtors.models import Debtor
from debtors.validators import dni_for

pytestmark = pytest.mark.django_db
TODAY = dt.date.today


def test_open_a_case_with_a_new_debtor_and_again_with_the_same_document(api, admin_user, creditor_a):
    client = api(admin_user)
    body = {
        "creditor": creditor_a.pk, "reference": "API-1", "original_amount": "250.00", "due_date": "2025-01-31",
        "debtor": {"document_type": "dni", "document_number": dni_for(44556677).lower(), "name": "Rosa Gil",
                   "contact_points": [{"kind": "phone", "value": "612 345 678"}]},
    }
    response = client.post("/api/v1/cases/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response["ETag"] == '"1"' and response.json()["balance"] == "250.00"
    debtor = Debtor.objects.get()
    assert debtor.contact_points.get().value == "+34612345678"
    response = client.post("/api/v1/cases/", {**body, "reference": "API-2"}, format="json")
    assert response.status_code == 201 and Debtor.objects.count() == 1 and Case.objects.count() == 2
    assert AuditLog.objects.filter(action="case.created").count() == 2


def test_bad_input_gets_field_errors_and_writes_nothing(api, admin_user, creditor_a):
    body = {"creditor": creditor_a.pk, "reference": "API-1", "original_amount": "250.00", "due_date": "2025-01-31",
            "debtor": {"document_type": "dni", "document_number": "12345678A", "name": "Mal"}}
    response = api(admin_user).post("/api/v1/cases/", body, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {"document_number": ["This is not a valid DNI number."]}
    assert Debtor.objects.count() == 0 and Case.objects.count() == 0
    response = api(admin_user).post("/api/v1/cases/", {"reference": "x"}, format="json", HTTP_ACCEPT_LANGUAGE="es")
    assert response.json()["creditor"] == ["Este campo es obligatorio."]


def test_stale_update_is_refused_with_412(api, agent, cases):
    client = api(agent)
    url = f"/api/v1/cases/{cases['a'].pk}/"
    etag = client.get(url)["ETag"]
    assert etag == '"1"'
    assert client.patch(url, {"next_action_note": "Llamar"}, format="json").status_code == 428
    first = client.patch(url, {"next_action_note": "Llamar", "objective": "get_commitment"}, format="json", HTTP_IF_MATCH=etag)
    assert first.status_code == 200 and first["ETag"] == '"2"' and first.json()["objective"] == "get_commitment"
    stale = client.patch(url, {"next_action_note": "Otra cosa"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and "non_field_errors" in stale.json()
    case = Case.objects.get(pk=cases["a"].pk)
    assert (case.next_action_note, case.version) == ({"text": "Llamar"}, 2)
    assert AuditLog.objects.filter(action="case.updated", case_id=case.pk).count() == 1


def test_status_change_needs_the_current_version(api, agent, cases):
    client = api(agent)
    url = f"/api/v1/cases/{cases['a'].pk}/status/"
    assert client.post(url, {"status": "on_hold"}, format="json", HTTP_IF_MATCH='"7"').status_code == 412
    response = client.post(url, {"status": "on_hold"}, format="json", HTTP_IF_MATCH='"1"')
    assert response.status_code == 200 and response.json()["status"] == "on_hold"
    response = client.post(url, {"status": "paid"}, format="json", HTTP_IF_MATCH='"2"')
    assert response.status_code == 400 and "status" in response.json()


def test_debtor_update_uses_its_etag(api, agent, cases):
    client = api(agent)
    url = f"/api/v1/debtors/{cases['a'].debtor_id}/"
    etag = client.get(url)["ETag"]
    response = client.patch(url, {"do_not_contact": True, "notes": "Pide no llamar"}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 200 and response.json()["do_not_contact"] is True
    assert client.patch(url, {"notes": "x"}, format="json", HTTP_IF_MATCH=etag).status_code == 412
    row = AuditLog.objects.get(action="debtor.updated")
    assert row.after == {"do_not_contact": True, "notes": "…"}  # the note itself stays out of the log


def test_log_an_attempt_and_a_promise(api, agent, cases):
    client = api(agent)
    response = client.post("/api/v1/contact-attempts/", {
        "case": cases["a"].pk, "channel": "phone", "outcome": "promise", "techniques": ["dialogue"], "notes": "Paga el viernes",
    }, format="json")
    assert response.status_code == 201, response.json()
    response = client.post("/api/v1/promises/", {"case": cases["a"].pk, "amount": "100.00", "due_date": (TODAY() + dt.timedelta(days=3)).isoformat()}, format="json")
    assert response.status_code == 201
    assert Case.objects.get(pk=cases["a"].pk).status == "promised"
    assert client.get(f"/api/v1/promises/?case={cases['a'].pk}").json()["count"] == 1


def test_create_calls_with_the_same_idempotency_key_create_once(api, agent, cases):
    client = api(agent)
    body = {"case": cases["a"].pk, "amount": "100.00", "due_date": (TODAY() + dt.timedelta(days=3)).isoformat()}
    first = client.post("/api/v1/promises/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    again = client.post("/api/v1/promises/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json() and PromiseToPay.objects.count() == 1
    other_path = client.post("/api/v1/contact-attempts/", {"case": cases["a"].pk, "channel": "sms", "outcome": "sent"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert other_path.status_code == 409
    # A failed call does not burn its key.
    bad = client.post("/api/v1/promises/", {**body, "amount": "999999.00"}, format="json", HTTP_IDEMPOTENCY_KEY="abc-2")
    assert bad.status_code == 400 and not IdempotencyRecord.objects.filter(key="abc-2").exists()
    assert client.post("/api/v1/promises/", body, format="json", HTTP_IDEMPOTENCY_KEY="abc-2").status_code == 201


def test_keys_of_different_clients_never_meet(api, agent, outsider, cases):
    body = {"amount": "10.00", "received_on": TODAY().isoformat()}
    assert api(agent).post("/api/v1/payments/", {**body, "case": cases["a"].pk}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert api(outsider).post("/api/v1/payments/", {**body, "case": cases["a2"].pk}, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert Payment.objects.count() == 2


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite serialises writers; the race needs concurrent transactions")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_twenty_parallel_identical_payments_post_once(api, agent, outsider, creditor_a):
    from tests.factories import CaseFactory

    case = CaseFactory(creditor=creditor_a, assigned_agent=agent, balance=Decimal("1000.00"))
    body = {"case": case.pk, "amount": "100.00", "received_on": TODAY().isoformat()}
    barrier = threading.Barrier(20)
    statuses, bodies = [], []

    def post():
        try:
            client = api(agent)
            barrier.wait()
            response = client.post("/api/v1/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="pay-2025-0001")
            statuses.append(response.status_code)
            bodies.append(response.json()["id"])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 19 + [201]
    assert len(set(bodies)) == 1 and Payment.objects.count() == 1
    assert Case.objects.get(pk=case.pk).balance == Decimal("900.00")
    assert AuditLog.objects.filter(action="payment.posted").count() == 1
    assert connection.vendor == "postgresql"


def test_schema_validates(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/v1/payments/" in (tmp_path / "schema.yaml").read_text()


def test_docs_page_is_served_from_our_own_static_files(client, agent):
    client.force_login(agent)
    html = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    assert client.get("/api/v1/schema/").status_code == 200


def test_lists_keep_a_query_budget(api, agent, cases, django_assert_max_num_queries):
    from tests.factories import CaseFactory

    for _ in range(30):
        CaseFactory(creditor=cases["a"].creditor, assigned_agent=agent)
    client = api(agent)
    # session, user, the user's team (visibility), count, page of cases, and the session's
    # renewal on every request (savepoint, update, release)
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/cases/?ordering=-balance").status_code == 200
    # the same, plus the contact points of the page's debtors
    with django_assert_max_num_queries(9):
        assert client.get("/api/v1/debtors/").status_code == 200


def _proposed_plan(agent, case, count: int):
    from cases.services import plan_create, plan_schedule

    first = TODAY() + dt.timedelta(days=3)
    rows = [(d, a) for _n, d, a in plan_schedule(total=Decimal("900.00"), count=count, frequency="monthly", first_date=first)]
    return plan_create(actor=agent, case_id=case.pk, total_amount=Decimal("900.00"), frequency="monthly", instalments=rows, agreed=False)


def test_plans_are_agreed_and_cancelled_through_the_api_with_the_pages_rules(api, agent, supervisor, cases):
    case = cases["a"]
    plan = _proposed_plan(agent, case, 18)
    response = api(agent).post(f"/api/v1/payment-plans/{plan.pk}/agree/")
    assert response.status_code == 400 and "supervisor" in str(response.json())
    response = api(supervisor).post(f"/api/v1/payment-plans/{plan.pk}/agree/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    response = api(agent).post(f"/api/v1/payment-plans/{plan.pk}/cancel/", {}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = api(agent).post(f"/api/v1/payment-plans/{plan.pk}/cancel/", {"reason": "Cambio de banco"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert AuditLog.objects.filter(object_id=str(plan.pk), action__in=["plan.approved", "plan.cancelled"]).count() == 2


def test_a_plan_of_another_creditor_or_team_is_404(api, agent, outsider, make_token, cases, creditor_b):
    theirs = _proposed_plan(outsider, cases["a2"], 3)
    assert api(agent).post(f"/api/v1/payment-plans/{theirs.pk}/agree/").status_code == 404
    _token, raw = make_token(creditor_b, can_write=True)
    assert api(token=raw).post(f"/api/v1/payment-plans/{theirs.pk}/cancel/", {"reason": "x"}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "proposed"


def test_reasons_come_in_the_requests_language_with_their_code(api, agent, cases):
    client = api(agent)
    url = f"/api/v1/cases/{cases['a'].pk}/"
    Case.objects.filter(pk=cases["a"].pk).update(
        objective_reason={"code": "excuse", "params": {"excuse": "forgot", "date": "2026-12-01", "objective": "get_commitment"}},
        next_action_note={"text": "Llamar el lunes"})
    en = client.get(url, HTTP_ACCEPT_LANGUAGE="en").json()
    es = client.get(url, HTTP_ACCEPT_LANGUAGE="es").json()
    assert en["objective_reason"] == "Excuse: «Forgot» on 12/01/2026 → Get a commitment"
    assert es["objective_reason"] == "Excusa: «Se le olvidó» el 01/12/2026 → Obtener un compromiso"
    assert en["objective_reason_data"] == es["objective_reason_data"] == {
        "code": "excuse", "params": {"excuse": "forgot", "date": "2026-12-01", "objective": "get_commitment"}}
    assert en["next_action_note"] == es["next_action_note"] == "Llamar el lunes"
    assert en["next_action_note_data"] == {"text": "Llamar el lunes"}
