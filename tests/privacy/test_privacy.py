"""Data protection: a debtor's export (everything held about them), the legal hold, and the
anonymisation once the retention period of every creditor has passed."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from cases.models import Barrier, Case, Instalment, Payment, PaymentPlan, PromiseToPay
from cases.services import barrier_open, case_set_status, payment_post, plan_create, promise_record
from collections_crm.audit.models import AuditLog
from collections_crm.privacy import tasks
from collections_crm.privacy.selectors import debtors_due_for_erasure
from collections_crm.privacy.services import DebtorNotErasable, debtor_anonymise, debtor_export, debtors_anonymise_expired
from contacts.models import ContactAttempt, ContactRefusal, FollowUp, MessageTemplate, MessageTemplateVersion, OutboundMessage
from contacts.services import contact_attempt_log
from debtors.models import ContactPoint, Debtor
from debtors.retention import CaseRetention, ErasureState, erasability
from debtors.services import debtor_create, debtor_set_legal_hold

from ..factories import CaseFactory, CreditorFactory, DebtorFactory

pytestmark = pytest.mark.django_db

NAME = "Zacarías Quintanilla Ybarra"
DOCUMENT = "12345678Z"
PHONE = "+12125550188"  # New York, for a debtor recorded in Madrid: two candidate zones
EMAIL = "zacarias.quintanilla@example.org"
ADDRESS = "Calle Inventada 7, 42001 Soria"
NOTE = "Quintanilla trabaja en el taller de su cuñado"
# Free text typed by agents; kept free of the debtor's details here because some of it is also
# copied into audit rows, which are never rewritten (see test_audit_rows_are_not_rewritten).
FREE_TEXT = "texto-libre-del-gestor"
PII = ["Quintanilla", DOCUMENT, "2125550188", EMAIL, "Inventada"]
DAY = dt.timedelta(days=1)


def _history(actor, *, creditor=None, retention_days: int = 365):
    """A debtor with one closed case and one of every record kind, written through the services."""
    creditor = creditor or CreditorFactory(retention_days=retention_days)
    debtor = debtor_create(
        actor=actor, name=NAME, document_type="dni", document_number=DOCUMENT, notes=NOTE,
        contact_points=[{"kind": "phone", "value": PHONE, "label": "móvil"}, {"kind": "email", "value": EMAIL},
                        {"kind": "address", "value": ADDRESS, "person_name": "Quintanilla padre"}],
    )
    case = CaseFactory(debtor=debtor, creditor=creditor, original_amount=Decimal("900.00"), assigned_agent=actor)
    phone = debtor.contact_points.get(kind="phone")
    contact_attempt_log(actor=actor, case_id=case.pk, channel="phone", outcome="promise", contact_point=phone,
                        notes=f"Habla {NAME}, {PHONE}", next_step=FREE_TEXT)
    promise_record(actor=actor, case_id=case.pk, amount=Decimal("100.00"), due_date=timezone.localdate() + DAY)
    today = timezone.localdate()
    plan_create(actor=actor, case_id=case.pk, total_amount=Decimal("600.00"), frequency="monthly",
                instalments=[(today + 30 * DAY, Decimal("300.00")), (today + 60 * DAY, Decimal("300.00"))])
    barrier_open(actor=actor, case_id=case.pk, kind="invoice_copy", description=FREE_TEXT)
    payment_post(actor=actor, case_id=case.pk, amount=Decimal("250.00"), received_on=today, reference=FREE_TEXT)
    template = MessageTemplate.objects.create(name=f"Privacidad {case.pk}", objective="remind", channel="email", language="es")
    version = MessageTemplateVersion.objects.create(template=template, number=1, subject="Saldo", body="Estimado/a {{ debtor_name }}",
                                                    created_at=timezone.now())
    OutboundMessage.objects.create(
        case=case, channel="email", objective="remind", contact_point=debtor.contact_points.get(kind="email"), recipient=EMAIL,
        template_version=version, language="es", subject=f"Para {NAME}", body=f"Estimado/a {NAME}: su saldo…",
        status="sent", idempotency_key=f"test-{case.pk}", not_before=timezone.now(), created_at=timezone.now(),
    )
    ContactRefusal.objects.create(case=case, channel="sms", reason="no_consent", stage="send", at=timezone.now())
    case_set_status(actor=actor, case_id=case.pk, status="closed")
    return debtor, Case.objects.get(pk=case.pk)


def _find(text: str) -> list[str]:
    """Every row of every table whose text columns (JSON included) hold ``text``."""
    found = []
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, (models.CharField, models.TextField, models.JSONField))]
        if not fields:
            continue
        query = Q()
        for field in fields:
            query |= Q(**{f"{field.attname}__icontains": text})
        found += [f"{model._meta.label}#{pk}" for pk in model._default_manager.filter(query).values_list("pk", flat=True)]
    return found


@pytest.fixture
def history(admin_user):
    return _history(admin_user)


# --- The decision ---------------------------------------------------------------------------------

NOW = dt.datetime(2030, 6, 1, 12, tzinfo=dt.UTC)


def _case(**kw) -> CaseRetention:
    return CaseRetention(**{"case_id": 1, "creditor_id": 1, "is_open": False, "closed_at": NOW - 400 * DAY,
                            "retention_days": 365, **kw})


@pytest.mark.parametrize("cases,hold,anonymised,state", [
    ([_case()], False, False, ErasureState.ERASABLE),
    ([_case(), _case(case_id=2, closed_at=NOW - 100 * DAY)], False, False, ErasureState.RETENTION),
    # Each creditor's own period: the short one passed, the long one not.
    ([_case(), _case(case_id=2, creditor_id=2, retention_days=2190)], False, False, ErasureState.RETENTION),
    ([_case(), _case(case_id=2, is_open=True, closed_at=None)], False, False, ErasureState.OPEN_CASES),
    ([_case()], True, False, ErasureState.LEGAL_HOLD),
    ([_case()], True, True, ErasureState.ANONYMISED),
    ([], False, False, ErasureState.ERASABLE),  # created more than the default period ago
], ids=["passed", "one-case-recent", "other-creditor-longer", "open-case", "legal-hold", "anonymised", "no-cases-old"])
@pytest.mark.django_db(False)
def test_erasability_table(cases, hold, anonymised, state):
    decision = erasability(cases=cases, legal_hold=hold, anonymised=anonymised, created_at=NOW - 3000 * DAY, now=NOW)
    assert decision.state == state
    assert decision.erasable is (state == ErasureState.ERASABLE)


@pytest.mark.django_db(False)
def test_erasable_from_is_the_last_retention_end():
    late = _case(case_id=2, creditor_id=2, closed_at=NOW - 10 * DAY, retention_days=30)
    decision = erasability(cases=[_case(), late], legal_hold=False, anonymised=False, created_at=NOW, now=NOW)
    assert decision.erasable_from == NOW + 20 * DAY


# --- Export ---------------------------------------------------------------------------------------

def test_export_holds_every_record_kind_and_nothing_of_another_debtor(history, admin_user, django_assert_max_num_queries):
    debtor, case = history
    stranger = CaseFactory(debtor=DebtorFactory(name="Otra Persona Distinta"))
    contact_attempt_log(actor=admin_user, case_id=stranger.pk, channel="phone", outcome="no_answer", notes="nota de otra persona")
    # Queries: debtor, contact points, cases, promises, plans, instalments, payments, barriers,
    # attempts, techniques, messages, refusals, follow-ups, online payments, portal uploads,
    # audit rows (16), the audit insert and its savepoint.
    with django_assert_max_num_queries(20):
        document = debtor_export(actor=admin_user, debtor_id=debtor.pk)
    text = json.dumps(document, ensure_ascii=False)
    assert document["debtor"]["name"] == NAME and document["debtor"]["document_number"] == DOCUMENT
    assert {p["value"] for p in document["contact_points"]} == {PHONE, EMAIL, ADDRESS}
    [exported] = document["cases"]
    assert exported["id"] == case.pk and exported["creditor"]["code"] == case.creditor.code
    for kind in ("promises", "plans", "payments", "barriers", "contact_attempts", "messages", "contact_refusals", "follow_ups"):
        assert exported[kind], kind
    assert len(exported["plans"][0]["instalments"]) == 2
    assert exported["payments"][0]["amount"] == "250.00"
    assert exported["messages"][0]["recipient"] == EMAIL
    assert {"debtor.created", "contact_point.added", "case.status_changed", "payment.posted"} <= {a["action"] for a in document["audit_log"]}
    assert "Otra Persona" not in text and "nota de otra persona" not in text
    assert str(stranger.pk) not in {str(a["case_id"]) for a in document["audit_log"]}


def test_export_is_audited_without_personal_data(history, admin_user):
    debtor, _case = history
    debtor_export(actor=admin_user, debtor_id=debtor.pk)
    row = AuditLog.objects.get(action="debtor.exported")
    assert (row.actor, row.object_type, row.object_id) == (admin_user, "debtors.debtor", str(debtor.pk))
    assert row.after == {"format_version": 1, "cases": 1, "contact_points": 3, "audit_rows": row.after["audit_rows"]}
    assert not any(s in json.dumps(row.after) for s in PII)


# --- Erasure blocked: nothing written -------------------------------------------------------------

def _snapshot_all(debtor):
    return (
        list(Debtor.objects.filter(pk=debtor.pk).values()), list(ContactPoint.objects.filter(debtor=debtor).values()),
        list(ContactAttempt.objects.filter(case__debtor=debtor).values()), list(OutboundMessage.objects.filter(case__debtor=debtor).values()),
        AuditLog.objects.count(),
    )


def test_open_case_blocks_erasure(admin_user):
    debtor, _case = _history(admin_user)
    CaseFactory(debtor=debtor, status="active")
    before = _snapshot_all(debtor)
    with pytest.raises(DebtorNotErasable) as exc:
        debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=timezone.now() + 1000 * DAY)
    assert exc.value.decision.state == ErasureState.OPEN_CASES
    assert _snapshot_all(debtor) == before


def test_legal_hold_blocks_erasure_and_is_audited(history, admin_user):
    debtor, _case = history
    with pytest.raises(ValidationError):
        debtor_set_legal_hold(actor=admin_user, debtor_id=debtor.pk, hold=True, reason="  ")
    debtor_set_legal_hold(actor=admin_user, debtor_id=debtor.pk, hold=True, reason="Juzgado 3 Soria, autos 123/2030")
    row = AuditLog.objects.get(action="debtor.legal_hold_set")
    assert row.actor == admin_user and row.after == {"legal_hold": True, "legal_hold_reason": "Juzgado 3 Soria, autos 123/2030"}
    before = _snapshot_all(debtor)
    with pytest.raises(DebtorNotErasable) as exc:
        debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=timezone.now() + 1000 * DAY)
    assert exc.value.decision.state == ErasureState.LEGAL_HOLD
    assert _snapshot_all(debtor) == before
    debtor_set_legal_hold(actor=admin_user, debtor_id=debtor.pk, hold=False)
    assert AuditLog.objects.filter(action="debtor.legal_hold_lifted").count() == 1
    assert debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=timezone.now() + 1000 * DAY) is not None


def test_retention_not_passed_blocks_erasure(history, admin_user):
    debtor, _case = history
    before = _snapshot_all(debtor)
    with pytest.raises(DebtorNotErasable) as exc:
        debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=timezone.now() + 300 * DAY)
    assert exc.value.decision.state == ErasureState.RETENTION
    assert _snapshot_all(debtor) == before


# --- Erasure --------------------------------------------------------------------------------------

def test_erasure_removes_the_personal_data_and_keeps_the_figures(history, admin_user):
    debtor, case = history
    for text in PII:
        assert _find(text), text  # the search finds them before
    money = (list(Payment.objects.filter(case=case).values_list("amount", "received_on")),
             list(PromiseToPay.objects.filter(case=case).values_list("amount", "due_date", "status")),
             list(Instalment.objects.filter(plan__case=case).values_list("amount", "due_date", "status")),
             list(PaymentPlan.objects.filter(case=case).values_list("total_amount", "status")))
    now = timezone.now() + 366 * DAY
    assert Debtor.objects.get(pk=debtor.pk).candidate_timezones == "America/New_York,Europe/Madrid"

    counts = debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=now)

    assert counts == {"contact_points": 3, "cases": 1, "contact_attempts": 1, "messages": 1, "barriers": 1, "payments": 1,
                      "follow_ups": FollowUp.objects.filter(case=case).count(), "online_payments": 0, "portal_uploads": 0}
    for text in PII:
        assert _find(text) == [], text
    assert _find(FREE_TEXT) and all(hit.startswith("audit.AuditLog#") for hit in _find(FREE_TEXT))
    debtor.refresh_from_db()
    assert debtor.anonymised_at == now and debtor.notes == "" and debtor.document_number == f"ANON{debtor.pk}"
    # Nothing is left of where the phone rang (New York) but the recorded zone.
    assert debtor.candidate_timezones == "Europe/Madrid"
    assert set(ContactPoint.objects.filter(debtor=debtor).values_list("do_not_contact", "label", "person_name")) == {(True, "", "")}
    assert Barrier.objects.get(case=case).description == "" and Payment.objects.get(case=case).reference == ""
    assert ContactAttempt.objects.get(case=case).next_step == ""
    after = Case.objects.get(pk=case.pk)
    assert (after.original_amount, after.balance, after.status, after.closed_at, after.reference) == (
        case.original_amount, case.balance, case.status, case.closed_at, case.reference)
    assert money == (list(Payment.objects.filter(case=case).values_list("amount", "received_on")),
                     list(PromiseToPay.objects.filter(case=case).values_list("amount", "due_date", "status")),
                     list(Instalment.objects.filter(plan__case=case).values_list("amount", "due_date", "status")),
                     list(PaymentPlan.objects.filter(case=case).values_list("total_amount", "status")))
    row = AuditLog.objects.get(action="debtor.anonymised")
    assert (row.actor, row.object_id, row.after) == (admin_user, str(debtor.pk), counts)


def test_erasure_runs_twice_with_one_effect(history, admin_user):
    debtor, _case = history
    now = timezone.now() + 366 * DAY
    assert debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=now) is not None
    written = AuditLog.objects.count()
    assert debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=now + DAY) is None
    assert AuditLog.objects.count() == written
    assert Debtor.objects.get(pk=debtor.pk).anonymised_at == now


def test_audit_rows_are_not_rewritten(history, admin_user):
    """The trail is append-only: erasure adds its own row and leaves the earlier ones as they
    were. They hold ids, codes and amounts, not the debtor's name, document or contact values."""
    debtor, _case = history
    before = list(AuditLog.objects.order_by("pk").values())
    debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=timezone.now() + 366 * DAY)
    assert list(AuditLog.objects.order_by("pk").values())[:len(before)] == before
    assert AuditLog.objects.count() == len(before) + 1


# --- The sweeper ----------------------------------------------------------------------------------

def _age(case: Case, days: int) -> None:
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - days * DAY)


def test_sweeper_task_run_twice_anonymises_once(admin_user):
    due, due_case = _history(admin_user)
    _age(due_case, 400)
    recent = CaseFactory(status="closed", creditor=due_case.creditor)
    _age(recent, 100)
    held = CaseFactory(status="closed", debtor=DebtorFactory(legal_hold=True, legal_hold_reason="autos 1/2030"))
    _age(held, 4000)
    open_case = CaseFactory(status="active")
    assert debtors_due_for_erasure(now=timezone.now()) == [due.pk]

    first = tasks.anonymise_expired()
    second = tasks.anonymise_expired()

    assert first == {"due": 1, "anonymised": 1, "skipped": 0}
    assert second == {"due": 0, "anonymised": 0, "skipped": 0}
    assert AuditLog.objects.filter(action="debtor.anonymised").count() == 1
    assert AuditLog.objects.get(action="debtor.anonymised").actor is None
    assert list(Debtor.objects.filter(anonymised_at__isnull=False).values_list("pk", flat=True)) == [due.pk]
    assert Debtor.objects.get(pk=open_case.debtor_id).anonymised_at is None


def test_sweeper_agrees_with_the_decision(admin_user):
    """The SQL filter and the pure decision give the same answer for each situation."""
    from collections_crm.privacy.selectors import debtor_erasability

    short = CreditorFactory(retention_days=30)
    long = CreditorFactory(retention_days=3000)
    situations = {
        "short-passed": [(short, "closed", 40)],
        "short-recent": [(short, "paid", 10)],
        "long-recent": [(long, "closed", 40)],
        "mixed": [(short, "closed", 40), (long, "closed", 40)],
        "open": [(short, "closed", 40), (short, "on_hold", None)],
    }
    debtors = {}
    for name, cases in situations.items():
        debtor = DebtorFactory()
        for creditor, status, age in cases:
            case = CaseFactory(debtor=debtor, creditor=creditor, status=status, balance=Decimal("0") if status == "paid" else Decimal("10"))
            if age is not None:
                _age(case, age)
        debtors[name] = debtor
    now = timezone.now()
    due = set(debtors_due_for_erasure(now=now))
    for name, debtor in debtors.items():
        assert (debtor.pk in due) is debtor_erasability(debtor=debtor, now=now).erasable, name
    assert due == {debtors["short-passed"].pk}


def test_sweeper_skips_a_debtor_that_stopped_being_erasable(admin_user, monkeypatch):
    due, due_case = _history(admin_user)
    _age(due_case, 400)
    from collections_crm.privacy import services

    real = services.debtors_due_for_erasure

    def and_then_a_hold(**kw):
        ids = real(**kw)
        Debtor.objects.filter(pk__in=ids).update(legal_hold=True, legal_hold_reason="autos 2/2030")
        return ids

    monkeypatch.setattr(services, "debtors_due_for_erasure", and_then_a_hold)
    assert debtors_anonymise_expired(now=timezone.now()) == {"due": 1, "anonymised": 0, "skipped": 1}
    assert Debtor.objects.get(pk=due.pk).anonymised_at is None


def test_management_command_dry_run_changes_nothing(admin_user, capsys):
    due, due_case = _history(admin_user)
    _age(due_case, 400)
    written = AuditLog.objects.count()
    call_command("anonymise_expired", "--dry-run")
    assert "1 debtors are due" in capsys.readouterr().out
    assert AuditLog.objects.count() == written and Debtor.objects.get(pk=due.pk).anonymised_at is None
    call_command("anonymise_expired")
    assert "1 anonymised" in capsys.readouterr().out
    assert Debtor.objects.get(pk=due.pk).anonymised_at is not None


# --- Pages: admins only ---------------------------------------------------------------------------

def _urls(debtor_id: int) -> list[str]:
    return [reverse("adminarea:debtors")] + [
        reverse(f"adminarea:{name}", kwargs={"debtor_id": debtor_id})
        for name in ("debtor_privacy", "debtor_export", "debtor_legal_hold", "debtor_anonymise")
    ]


@pytest.mark.parametrize("persona", ["agent", "supervisor"])
def test_only_admins_may_export_or_erase(request, client, persona, admin_user):
    debtor, _case = _history(admin_user)
    _age(_case, 400)
    client.force_login(request.getfixturevalue(persona))
    for url in _urls(debtor.pk):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"confirm": "on", "hold": "on", "reason": "x"}).status_code == 403, url
    assert not AuditLog.objects.filter(action__in=["debtor.exported", "debtor.anonymised", "debtor.legal_hold_set"]).exists()
    assert Debtor.objects.get(pk=debtor.pk).anonymised_at is None


@pytest.mark.parametrize("language,text", [("es", "Protección de datos"), ("en", "Data protection")])
def test_admin_finds_the_debtor_and_downloads_the_export(client, admin_user, history, language, text):
    debtor, case = history
    client.force_login(admin_user)
    page = client.get(reverse("adminarea:debtors"), {"q": DOCUMENT}, HTTP_ACCEPT_LANGUAGE=language)
    assert page.status_code == 200 and text in page.content.decode()
    assert reverse("adminarea:debtor_privacy", kwargs={"debtor_id": debtor.pk}) in page.content.decode()
    detail = client.get(reverse("adminarea:debtor_privacy", kwargs={"debtor_id": debtor.pk}), HTTP_ACCEPT_LANGUAGE=language)
    assert detail.status_code == 200 and case.reference in detail.content.decode()
    assert detail.context["decision"].state == ErasureState.RETENTION
    response = client.post(reverse("adminarea:debtor_export", kwargs={"debtor_id": debtor.pk}))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    assert json.loads(response.content)["debtor"]["name"] == NAME
    assert AuditLog.objects.filter(action="debtor.exported", actor=admin_user).count() == 1


def test_admin_sets_a_legal_hold_from_the_page(client, admin_user, history):
    debtor, _case = history
    client.force_login(admin_user)
    url = reverse("adminarea:debtor_legal_hold", kwargs={"debtor_id": debtor.pk})
    assert client.post(url, {"hold": "on", "reason": ""}).status_code == 400
    assert not Debtor.objects.get(pk=debtor.pk).legal_hold
    assert client.post(url, {"hold": "on", "reason": "autos 9/2030"}).status_code == 302
    assert Debtor.objects.get(pk=debtor.pk).legal_hold


def test_admin_anonymises_by_hand_after_confirming(client, admin_user, history):
    debtor, case = history
    _age(case, 400)
    client.force_login(admin_user)
    url = reverse("adminarea:debtor_anonymise", kwargs={"debtor_id": debtor.pk})
    confirm = client.get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert confirm.status_code == 200 and "cannot be restored" in confirm.content.decode()
    client.post(url, {})  # not confirmed
    assert Debtor.objects.get(pk=debtor.pk).anonymised_at is None
    assert client.post(url, {"confirm": "on"}).status_code == 302
    assert Debtor.objects.get(pk=debtor.pk).anonymised_at is not None
    assert client.post(url, {"confirm": "on"}).status_code == 302  # a second click: nothing more
    assert AuditLog.objects.filter(action="debtor.anonymised", actor=admin_user).count() == 1
    page = client.get(reverse("adminarea:debtor_privacy", kwargs={"debtor_id": debtor.pk}))
    assert page.status_code == 200 and page.context["decision"].state == ErasureState.ANONYMISED
    assert NAME not in page.content.decode()


def test_privacy_page_budget_does_not_grow_with_the_cases(client, admin_user, django_assert_max_num_queries):
    debtor, case = _history(admin_user)
    client.force_login(admin_user)
    url = reverse("adminarea:debtor_privacy", kwargs={"debtor_id": debtor.pk})
    client.get(url)
    for _ in range(5):
        CaseFactory(debtor=debtor, status="closed", creditor=CreditorFactory())
    # Queries: session, user, debtor, its cases with their creditors (4), plus the layout's own.
    with django_assert_max_num_queries(8) as captured:
        assert client.get(url).status_code == 200
    assert len(captured) <= 8


def test_admin_cannot_anonymise_a_debtor_inside_retention(client, admin_user, history):
    debtor, _case = history
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:debtor_anonymise", kwargs={"debtor_id": debtor.pk}), {"confirm": "on"}, follow=True,
                           HTTP_ACCEPT_LANGUAGE="en")
    assert "retention period has not passed" in response.content.decode()
    assert Debtor.objects.get(pk=debtor.pk).anonymised_at is None


def test_creditor_form_sets_the_retention(client, admin_user):
    creditor = CreditorFactory()
    client.force_login(admin_user)
    response = client.post(reverse("adminarea:creditor_edit", kwargs={"creditor_id": creditor.pk}), {
        "code": creditor.code, "name": creditor.name, "kind": creditor.kind, "currency": "EUR", "active": "on", "retention_days": 1825,
    })
    assert response.status_code == 302
    creditor.refresh_from_db()
    assert creditor.retention_days == 1825
    assert AuditLog.objects.get(action="creditor.updated").after == {"retention_days": 1825}


def test_erasure_deletes_the_files_sent_on_the_portal(history, admin_user, settings, tmp_path, django_capture_on_commit_callbacks):
    from django.core.files.base import ContentFile

    from collections_crm.selfservice.models import Checkout, PortalUpload

    settings.CRM_PRIVATE_MEDIA_ROOT = tmp_path
    debtor, case = history
    upload = PortalUpload(case=case, purpose="dispute", original_name=f"{NAME}.pdf", content_type="application/pdf", size=9,
                          uploaded_at=timezone.now())
    upload.file.save("x.pdf", ContentFile(b"%PDF-1.4 "), save=False)
    upload.save()
    Checkout.objects.create(order="2612PRIVACY1", case=case, provider="sandbox", amount=Decimal("5"), currency="EUR",
                            status="refused", failure_reason=f"Tarjeta de {NAME}", created_at=timezone.now())
    stored = tmp_path / upload.file.name
    assert stored.exists()
    document = debtor_export(actor=admin_user, debtor_id=debtor.pk)
    assert document["cases"][0]["portal_uploads"][0]["original_name"] == f"{NAME}.pdf"
    with django_capture_on_commit_callbacks(execute=True):
        counts = debtor_anonymise(actor=admin_user, debtor_id=debtor.pk, now=timezone.now() + 366 * DAY)
    assert counts["portal_uploads"] == 1 and counts["online_payments"] == 1
    assert not PortalUpload.objects.filter(case=case).exists() and not stored.exists()
    assert Checkout.objects.get(case=case).failure_reason == ""
    assert _find(NAME) == [] or all(hit.startswith("audit.AuditLog#") for hit in _find(NAME))
