"""The debtor's journey through the portal's pages, on the test client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from cases.choices import CaseStatus, PlanStatus
from cases.models import Barrier, Case, Payment
from collections_crm.audit.models import AuditLog
from collections_crm.selfservice.models import Checkout, CheckoutStatus, PortalUpload, ProviderEvent
from contacts.models import ContactAttempt

from .conftest import open_and_verify

pytestmark = pytest.mark.django_db


def test_case_page_shows_what_is_owed_after_identity(visit, portal_case):
    response = visit.get(f"/p/case/{portal_case.pk}/")
    assert response.status_code == 200
    text = response.content.decode()
    assert portal_case.reference in text and portal_case.creditor.name in text
    assert AuditLog.objects.filter(case_id=portal_case.pk, action="portal.identity_confirmed").exists()


def test_pay_part_by_sandbox_posts_once_and_replans(visit, portal_case):
    response = visit.post(f"/p/case/{portal_case.pk}/pay/", {"amount": "250.00"})
    assert response.status_code == 302 and "/p/sandbox/" in response.url
    checkout = Checkout.objects.get(case=portal_case)
    assert checkout.status == CheckoutStatus.PENDING and not Payment.objects.filter(case=portal_case).exists()
    response = visit.post(response.url, {"action": "pay"})
    assert response.status_code == 302
    checkout.refresh_from_db()
    portal_case.refresh_from_db()
    assert checkout.status == CheckoutStatus.PAID and checkout.payment.amount == Decimal("250.00")
    assert portal_case.balance == Decimal("750.00")
    assert ContactAttempt.objects.filter(case=portal_case, channel="portal", direction="inbound", outcome="payment").count() == 1
    assert ProviderEvent.objects.filter(checkout=checkout, outcome="posted").count() == 1
    # The same page posted again (a double click): the checkout is finished, nothing more.
    visit.post(f"/p/sandbox/{checkout.public_id}/", {"action": "pay"})
    assert Payment.objects.filter(case=portal_case).count() == 1
    page = visit.get(f"/p/payment/{checkout.public_id}/")
    assert page.status_code == 200


def test_wrong_answers_lock_the_link(client, issued, portal_case):
    for _ in range(4):
        response = open_and_verify(client, issued, document_end="0000")
        assert response.status_code == 400
        text = response.content.decode()
        assert 'value="0000"' not in text and "no coinciden con nuestros datos" in text
    response = client.post("/p/verify/", {"document_end": "0000", "postal_code": "28013"})
    assert response.status_code == 429
    # Locked: even the right answer is refused now.
    response = client.post("/p/verify/", {"document_end": "678Z", "postal_code": "28013"})
    assert "bloqueado" in response.content.decode()
    assert response.status_code == 429
    assert AuditLog.objects.filter(case_id=portal_case.pk, action="portal.link_locked").count() == 1
    assert client.get(f"/p/case/{portal_case.pk}/").status_code == 302


def test_promise_within_limit(visit, portal_case):
    today = timezone.localdate()
    too_late = today + dt.timedelta(days=45)
    response = visit.post(f"/p/case/{portal_case.pk}/promise/", {"amount": "100", "due_date": too_late.isoformat()})
    assert response.status_code == 400 and not portal_case.promises.exists()
    response = visit.post(f"/p/case/{portal_case.pk}/promise/", {"amount": "100", "due_date": (today + dt.timedelta(days=5)).isoformat()})
    assert response.status_code == 302
    portal_case.refresh_from_db()
    assert portal_case.status == CaseStatus.PROMISED
    promise = portal_case.promises.get()
    assert promise.contact_attempt.channel == "portal"


def test_plan_inside_guardrails_goes_live(visit, portal_case):
    page = visit.get(f"/p/case/{portal_case.pk}/plan/")
    assert page.status_code == 200 and b"3-monthly" in page.content
    response = visit.post(f"/p/case/{portal_case.pk}/plan/", {"option": "3-monthly"})
    assert response.status_code == 302
    plan = portal_case.plans.get()
    assert plan.status == PlanStatus.ACTIVE and plan.instalment_count == 3
    portal_case.refresh_from_db()
    assert portal_case.status == CaseStatus.PLAN


def test_plan_outside_guardrails_is_a_proposal(visit, portal_case):
    response = visit.post(f"/p/case/{portal_case.pk}/plan/", {"count": "30", "frequency": "monthly"})
    assert response.status_code == 302
    assert portal_case.plans.get().status == PlanStatus.PROPOSED


def test_document_request_opens_a_barrier(visit, portal_case):
    response = visit.post(f"/p/case/{portal_case.pk}/documents/", {"kind": "invoice_copy", "words": "No tengo la factura de marzo"})
    assert response.status_code == 302
    barrier = Barrier.objects.get(case=portal_case)
    assert barrier.description == "No tengo la factura de marzo"
    pdf = visit.get(f"/p/case/{portal_case.pk}/statement.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_dispute_pauses_and_gives_the_agent_a_task(visit, portal_case):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("factura.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = visit.post(f"/p/case/{portal_case.pk}/dispute/", {"reason": "Ya pagué esta factura en marzo.", "upload": upload})
    assert response.status_code == 302
    case = Case.objects.get(pk=portal_case.pk)
    assert case.status == CaseStatus.DISPUTED and case.paused_at is not None
    assert case.next_action_at is not None and case.next_action_note["code"] == "review_dispute"
    stored = PortalUpload.objects.get(case=case)
    assert stored.content_type == "application/pdf" and stored.file.storage.exists(stored.file.name)


def test_bad_upload_is_refused_and_nothing_written(visit, portal_case):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fake = SimpleUploadedFile("factura.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = visit.post(f"/p/case/{portal_case.pk}/dispute/", {"reason": "Ya pagué esta factura en marzo.", "upload": fake})
    assert response.status_code == 400
    assert Case.objects.get(pk=portal_case.pk).status == "active"
    assert not PortalUpload.objects.exists() and not ContactAttempt.objects.filter(case=portal_case).exists()


def test_preferences_opt_out_email(visit, portal_case, debtor):
    response = visit.post(f"/p/case/{portal_case.pk}/preferences/", {"opt_out": ["email"]})
    assert response.status_code == 302
    assert debtor.contact_points.get(kind="email").opted_out is True
    assert debtor.contact_points.get(kind="phone").opted_out is False


def test_paying_everything_ends_the_link_but_shows_the_thanks(visit, portal_case):
    response = visit.post(f"/p/case/{portal_case.pk}/pay/", {"amount": str(portal_case.balance)})
    checkout = Checkout.objects.get(case=portal_case)
    response = visit.post(response.url, {"action": "pay"})
    page = visit.get(response.url)
    assert page.status_code == 200 and "Su deuda está saldada" in page.content.decode()
    assert Case.objects.get(pk=portal_case.pk).status == CaseStatus.PAID
    # Anything else now: the link has ended with the debt.
    assert visit.get(f"/p/case/{portal_case.pk}/").url == "/p/ended/"
    assert checkout.public_id


def test_without_a_payment_provider_the_pay_page_says_how_else_to_pay(visit, portal_case, settings):
    settings.CRM_PAYMENT_PROVIDER = ""
    page = visit.get(f"/p/case/{portal_case.pk}/pay/")
    assert page.status_code == 200 and b'name="amount"' not in page.content
    assert visit.post(f"/p/case/{portal_case.pk}/pay/", {"amount": "10"}).status_code == 400
    assert not Checkout.objects.exists()


def test_the_sandbox_webhook_answers_only_when_the_sandbox_is_the_provider(client, settings):
    settings.CRM_PAYMENT_PROVIDER = "stripe"
    assert client.post("/webhooks/payments/sandbox/", data=b"{}", content_type="application/json").status_code == 404


def test_a_way_to_pay_the_provider_does_not_offer_is_refused(portal_case):
    from django.core.exceptions import ValidationError

    from collections_crm.selfservice.payments import checkout_start

    with pytest.raises(ValidationError) as refused:
        checkout_start(case_id=portal_case.pk, link_id=None, amount=Decimal("10"), method="bizum")
    assert "method" in refused.value.error_dict and not Checkout.objects.exists()


def test_redsys_offers_bizum_and_the_payment_is_posted_as_bizum(visit, portal_case, settings):
    settings.CRM_PAYMENT_PROVIDER = "redsys"
    settings.REDSYS_MERCHANT_CODE, settings.REDSYS_SECRET_KEY = "999008881", "sq7HjrUOBfKmC576ILgskD5srU870gJ7"
    page = visit.get(f"/p/case/{portal_case.pk}/pay/")
    assert b'value="bizum"' in page.content
    response = visit.post(f"/p/case/{portal_case.pk}/pay/", {"amount": "20.00", "method": "bizum"})
    assert response.status_code == 200 and b"sis-t.redsys.es" in response.content
    checkout = Checkout.objects.get(case=portal_case)
    assert checkout.method == "bizum" and checkout.provider == "redsys"
    # Confirmed (the provider's callback is tested in tests/selfservice): posted as a Bizum payment.
    from collections_crm.selfservice.payments import _apply
    from collections_crm.selfservice.providers import CallbackEvent

    with transaction.atomic():
        outcome, _pk = _apply(CallbackEvent(event_id="e1", order=checkout.order, paid=True, amount=Decimal("20.00"), currency="EUR"),
                              provider_name="redsys", now=timezone.now())
    assert outcome == "posted" and Payment.objects.get(case=portal_case).method == "bizum"
