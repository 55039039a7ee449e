"""The staff side of self-service on the case page: the links panel (give one, end them all), the
online payments, the files the debtor sent, the portal on the timeline and the queue's "portal
activity since my last look"."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from collections_crm.audit.models import AuditLog
from collections_crm.audit.services import audit_record
from collections_crm.selfservice import models as ss
from collections_crm.selfservice.activity import case_portal_touch
from collections_crm.selfservice.links import link_issue
from collections_crm.selfservice.models import Checkout, CheckoutStatus, PortalLink, PortalUpload
from contacts.services import contact_attempt_log
from tests.factories import CaseFactory

HTMX = {"HTTP_HX_REQUEST": "true"}


def detail(case):
    return reverse("desk:detail", args=[case.pk])


def _checkout(case, status=CheckoutStatus.PAID, n=0, **kwargs):
    return Checkout.objects.create(case=case, order=f"{case.pk:04d}{n:08d}"[:12], provider="sandbox", amount=Decimal("50.00"),
                                   currency="EUR", status=status, created_at=timezone.now() - dt.timedelta(minutes=n), **kwargs)


@pytest.fixture
def private_files(tmp_path, settings):
    """The private storage in a temporary folder."""
    settings.CRM_PRIVATE_MEDIA_ROOT = tmp_path
    return tmp_path


def _upload(case, private_files, *, name="recibo.pdf", content_type="application/pdf", data=b"%PDF-1.4 test"):
    upload = PortalUpload(case=case, purpose="document", original_name=name, content_type=content_type, size=len(data),
                          uploaded_at=timezone.now())
    upload.file.save(name, ContentFile(data), save=False)
    upload.save()
    return upload


# --- The panel --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_panel_lists_links_payments_and_files_and_a_refused_payment_stands_out(login, agent, case, private_files):
    with transaction.atomic():
        link_issue(case_id=case.pk, source="email")
    PortalLink.objects.filter(case=case).update(open_count=3, first_opened_at=timezone.now(), last_opened_at=timezone.now())
    _checkout(case, CheckoutStatus.PAID, 1)
    _checkout(case, CheckoutStatus.REFUSED, 2, failure_reason="The case was closed meanwhile")
    _upload(case, private_files)
    page = login(agent).get(detail(case), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    panel = page.context["selfservice"]
    assert [link.source for link in panel["links"]] == ["email"] and panel["links_working"] == 1
    assert [c.status for c in panel["checkouts"]] == ["refused", "paid"]  # the refused one first
    assert 'data-testid="checkout-refused-alert"' in html
    assert "The case was closed meanwhile" in html and 'class="table-danger"' in html
    assert "recibo.pdf" in html and "3 times" in html


@pytest.mark.django_db
def test_a_read_only_viewer_sees_the_panel_without_its_buttons(login, agent, teammate, team, case):
    team.agents_see_team_cases = True
    team.save()
    html = login(teammate).get(detail(case)).content.decode()
    assert 'data-testid="selfservice-panel"' in html
    assert 'data-testid="link-issue"' not in html and 'data-testid="links-revoke"' not in html


@pytest.mark.django_db
def test_case_page_queries_do_not_grow_with_links_payments_and_files(login, agent, private_files):
    client = login(agent)
    small, large = CaseFactory(assigned_agent=agent), CaseFactory(assigned_agent=agent)
    for case, n in ((small, 1), (large, 40)):
        with transaction.atomic():
            for _ in range(n):
                link_issue(case_id=case.pk, source="sms")
        for i in range(n):
            _checkout(case, CheckoutStatus.PAID if i % 2 else CheckoutStatus.FAILED, i)
            _upload(case, private_files, name=f"f{i}.pdf")

    def count(case):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(detail(case)).status_code == 200
        return len(ctx.captured_queries)

    assert count(small) == count(large)
    # The case page's budget (tests/desk/test_views.py) with the visit and the panel's 4 queries.
    assert count(large) <= 38
    assert len(client.get(detail(large)).context["selfservice"]["links"]) == 10


# --- Giving a link and ending them ---------------------------------------------------------------


@pytest.mark.django_db
def test_agent_gives_a_new_link_shown_once_and_audited(login, agent, case):
    client = login(agent)
    response = client.post(reverse("desk:link_issue", args=[case.pk]), **HTMX)
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    link = PortalLink.objects.get(case=case)
    assert link.source == "agent" and link.created_by == agent
    issued = response.context["issued"]
    html = response.content.decode()
    assert issued.url in html and issued.code in html and "/p/o/" in issued.url
    row = AuditLog.objects.get(action="portal.link_issued", case_id=case.pk)
    assert row.actor == agent and row.after["source"] == "agent"
    # The secrets are nowhere to be read again: not on the next page view, not in the database.
    again = client.get(detail(case)).content.decode()
    assert issued.code not in again and issued.url not in again
    assert issued.url.rsplit("/", 2)[-2] not in link.token_digest


@pytest.mark.django_db
def test_supervisor_and_admin_may_give_links_but_not_who_only_sees_or_cannot_see(
    login, case, team, supervisor, admin_user, teammate, outsider,
):
    team.agents_see_team_cases = True
    team.save()
    for user in (teammate, outsider):
        assert login(user).post(reverse("desk:link_issue", args=[case.pk])).status_code == 404
        assert login(user).post(reverse("desk:links_revoke", args=[case.pk])).status_code == 404
    assert not PortalLink.objects.filter(case=case).exists()
    for user in (supervisor, admin_user):
        assert login(user).post(reverse("desk:link_issue", args=[case.pk])).status_code == 200
    assert PortalLink.objects.filter(case=case).count() == 2


@pytest.mark.django_db
def test_a_get_gives_no_link(login, agent, case):
    assert login(agent).get(reverse("desk:link_issue", args=[case.pk])).status_code == 405
    assert not PortalLink.objects.exists()


@pytest.mark.django_db
def test_end_all_links_revokes_the_working_ones_and_audits(login, agent, case, teammate):
    with transaction.atomic():
        first = link_issue(case_id=case.pk, source="email").link
        second = link_issue(case_id=case.pk, source="agent", actor=agent).link
    other_case = CaseFactory(assigned_agent=agent)
    with transaction.atomic():
        other = link_issue(case_id=other_case.pk, source="sms").link
    client = login(agent)
    html = client.get(detail(case)).content.decode()
    assert "data-confirm=" in html  # the button asks first (static/js/app.js)
    response = client.post(reverse("desk:links_revoke", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en", **HTMX)
    assert response.status_code == 200
    assert "2 personal links ended." in response.content.decode()
    for link in (first, second):
        link.refresh_from_db()
        assert link.revoked_at is not None and link.revoked_by == agent
    other.refresh_from_db()
    assert other.revoked_at is None
    row = AuditLog.objects.get(action="portal.links_revoked", case_id=case.pk)
    assert row.actor == agent and row.after == {"links": 2}
    # Nothing left to end: said so, nothing written.
    response = client.post(reverse("desk:links_revoke", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302
    assert AuditLog.objects.filter(action="portal.links_revoked").count() == 1


# --- Files the debtor sent ------------------------------------------------------------------------


@pytest.mark.django_db
def test_download_is_an_attachment_with_a_safe_type_for_those_who_see_the_case(
    login, agent, teammate, team, supervisor, outsider, case, private_files,
):
    pdf = _upload(case, private_files)
    html_file = _upload(case, private_files, name="x.html", content_type="text/html", data=b"<script>alert(1)</script>")
    url = reverse("desk:upload_download", args=[case.pk, pdf.pk])
    response = login(agent).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;") and "recibo.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == b"%PDF-1.4 test"
    from collections_crm.audit.models import AuditLog

    read = AuditLog.objects.get(action="portal_upload.downloaded", object_id=str(pdf.pk))
    assert read.actor == agent and read.case_id == case.pk
    risky = login(agent).get(reverse("desk:upload_download", args=[case.pk, html_file.pk]))
    assert risky["Content-Type"] == "application/octet-stream" and risky["Content-Disposition"].startswith("attachment;")
    # Who may see the case may read its files (a teammate when the team shares its cases).
    assert login(supervisor).get(url).status_code == 200
    assert login(teammate).get(url).status_code == 404
    team.agents_see_team_cases = True
    team.save()
    assert login(teammate).get(url).status_code == 200
    assert login(outsider).get(url).status_code == 404


@pytest.mark.django_db
def test_a_file_is_never_served_through_another_case(login, agent, case, private_files):
    mine = CaseFactory(assigned_agent=agent)
    upload = _upload(case, private_files)
    assert login(agent).get(reverse("desk:upload_download", args=[mine.pk, upload.pk])).status_code == 404


# --- The timeline ---------------------------------------------------------------------------------


def _timeline(client, case, **params):
    return client.get(reverse("desk:timeline", args=[case.pk]), params, HTTP_ACCEPT_LANGUAGE="en")


@pytest.mark.django_db
def test_portal_events_read_in_words_and_links_sent_with_messages_stay_quiet(login, agent, case):
    now = timezone.now()
    with transaction.atomic():
        by_message = link_issue(case_id=case.pk, source="email", now=now - dt.timedelta(hours=5)).link
        link_issue(case_id=case.pk, source="agent", actor=agent, now=now - dt.timedelta(hours=4))
        audit_record(actor=None, action="portal.link_opened", obj=by_message, case_id=case.pk, after={"source": "email"},
                     at=now - dt.timedelta(hours=3))
        audit_record(actor=None, action="portal.identity_failed", obj=by_message, case_id=case.pk, after={"failed_attempts": 2},
                     at=now - dt.timedelta(hours=2))
        audit_record(actor=None, action="portal.checkout_refused", obj=by_message, case_id=case.pk,
                     after={"amount": "50.00", "currency": "EUR", "reason": "case closed"}, at=now - dt.timedelta(hours=1))
    entries = _timeline(login(agent), case).context["timeline"]
    actions = [e.action for e in entries]
    assert actions == ["portal.checkout_refused", "portal.identity_failed", "portal.link_opened", "portal.link_issued"]
    by_action = {e.action: e for e in entries}
    assert str(by_action["portal.link_issued"].title) == "Personal link given" and by_action["portal.link_issued"].actor == agent
    assert "Given by an agent" in by_action["portal.link_issued"].summary
    assert by_action["portal.link_opened"].summary == "E-mail"
    assert "2 wrong answer(s)" in by_action["portal.identity_failed"].summary
    assert "50.00 EUR" in by_action["portal.checkout_refused"].summary and "case closed" in by_action["portal.checkout_refused"].summary
    assert str(by_action["portal.checkout_refused"].by) == "Debtor, on the portal"
    assert [e.action for e in _timeline(login(agent), case, kind="portal").context["timeline"]] == actions


@pytest.mark.django_db
def test_a_portal_act_is_one_self_service_entry(login, agent, case):
    """The portal logs an inbound contact of its own with the audit row of the act, at one instant:
    one entry, titled by the channel, the act a line of it."""
    at = timezone.now() - dt.timedelta(minutes=5)
    with transaction.atomic():
        contact_attempt_log(actor=None, case_id=case.pk, channel="portal", direction="inbound", outcome="promise", now=at)
        audit_record(actor=None, action="portal.promise", obj=case, case_id=case.pk,
                     after={"amount": "120.00", "due_date": "2030-05-15"}, at=at)
    response = _timeline(login(agent), case)
    entries = response.context["timeline"]
    assert len(entries) == 1
    entry = entries[0]
    assert entry.attempt.channel == "portal" and entry.icon == "phone"
    assert entry.extra and entry.extra[0].startswith("Promise made on the portal: 120.00")
    html = response.content.decode()
    assert "Self-service portal" in html and "Debtor, on the portal" in html


# --- The queue: portal activity since my last look ---------------------------------------------


@pytest.mark.django_db
def test_queue_filter_shows_cases_with_portal_activity_since_my_last_look(login, agent, supervisor):
    quiet, touched, seen, seen_then_touched = (CaseFactory(assigned_agent=agent) for _ in range(4))
    t0 = timezone.now() - dt.timedelta(hours=3)
    for c in (touched, seen, seen_then_touched):
        case_portal_touch(case_id=c.pk, now=t0)
    client = login(agent)

    def filtered(c=client):
        return {case.pk for case, _s in c.get(reverse("desk:queue"), {"portal_new": "on"}).context["rows"]}

    assert filtered() == {touched.pk, seen.pk, seen_then_touched.pk}
    client.get(detail(seen))
    client.get(detail(seen_then_touched))
    assert filtered() == {touched.pk}
    case_portal_touch(case_id=seen_then_touched.pk, now=timezone.now() + dt.timedelta(seconds=1))
    assert filtered() == {touched.pk, seen_then_touched.pk}
    # A look is one person's: the supervisor has seen none of them.
    assert filtered(login(supervisor)) == {touched.pk, seen.pk, seen_then_touched.pk}
    # Without the filter, the whole queue.
    assert len(client.get(reverse("desk:queue")).context["rows"]) == 4
    assert quiet.pk not in filtered()


@pytest.mark.django_db
def test_portal_touch_never_moves_the_time_back(case):
    later = timezone.now()
    case_portal_touch(case_id=case.pk, now=later)
    case_portal_touch(case_id=case.pk, now=later - dt.timedelta(hours=1))
    assert ss.PortalActivity.objects.get(case=case).last_at == later


# --- The debtor's identity answers ------------------------------------------------------------------


@pytest.mark.django_db
def test_agent_sets_the_identity_answers_from_the_case_page(login, agent, case):
    client = login(agent)
    page = client.get(detail(case))
    stamp = page.context["identity_form"]["stamp"].value()
    url = reverse("desk:debtor_identity", args=[case.pk])
    response = client.post(url, {"identity-postal_code": " 28013 ", "identity-birth_date": "1985-03-05", "identity-stamp": stamp}, **HTMX)
    assert response.status_code == 200
    case.debtor.refresh_from_db()
    assert (case.debtor.postal_code, case.debtor.birth_date) == ("28013", dt.date(1985, 3, 5))
    assert AuditLog.objects.get(action="debtor.updated").after == {"postal_code": "…", "birth_date": "…"}
    # The form was read before that change: refused, nothing written.
    stale = client.post(url, {"identity-postal_code": "1", "identity-birth_date": "", "identity-stamp": stamp}, HTTP_ACCEPT_LANGUAGE="en")
    assert stale.status_code == 400 and "Someone else changed this debtor" in stale.content.decode()
    case.debtor.refresh_from_db()
    assert case.debtor.postal_code == "28013"


@pytest.mark.django_db
def test_identity_answers_are_validated_and_only_for_who_may_act(login, agent, teammate, team, case):
    url = reverse("desk:debtor_identity", args=[case.pk])
    future = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    response = login(agent).post(url, {"identity-postal_code": "1234567890123", "identity-birth_date": future}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = response.context["identity_form"].errors
    assert set(errors) == {"postal_code", "birth_date"} and "cannot be in the future" in errors["birth_date"][0]
    team.agents_see_team_cases = True
    team.save()
    assert login(teammate).post(url, {"identity-postal_code": "28013"}).status_code == 404
    case.debtor.refresh_from_db()
    assert (case.debtor.postal_code, case.debtor.birth_date) == ("", None)
    assert not AuditLog.objects.filter(action="debtor.updated").exists()
