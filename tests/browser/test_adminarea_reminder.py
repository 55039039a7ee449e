"""End to end: an admin edits the Spanish reminder e-mail in a real browser, previews it on a
case, saves; then the real Celery worker (Redis broker) sends the case's next reminder with the
new version."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core import mail
from django.utils import timezone

from contacts.engine import followups_plan
from contacts.models import FollowUp, JurisdictionPack, MessageTemplate, OutboundMessage
from tests.brokers import requires_redis
from tests.factories import CaseFactory, ContactPointFactory, DebtorFactory

# Serialized rollback reloads the seeded templates and rules that a transactional test flushes.
pytestmark = [pytest.mark.browser, pytest.mark.celery, requires_redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NEW_LINE = "Le ofrecemos también un plan de pagos a su medida."


@pytest.fixture
def celery_worker_options():
    """A real worker (solo pool) in a thread of this process, so that its mail reaches mail.outbox."""
    return {"in_process": True}


def _wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the worker")


def test_admin_edits_spanish_reminder_and_worker_sends_the_new_version(
    page, live_server, screenshot, browser_login, admin_user, agent, celery_worker
):
    # A contact policy open at any hour so the test does not depend on the wall clock.
    JurisdictionPack.objects.create(code="test-any-time", name="Any time", countries="XX", start_time=dt.time(0),
                                    end_time=dt.time(23, 59, 59), weekdays="1,2,3,4,5,6,7", consent_channels="")
    debtor = DebtorFactory(name="Lucía Fernández", language="es", country="XX")
    ContactPointFactory(debtor=debtor, kind="email", value="lucia@example.com")
    case = CaseFactory(debtor=debtor, assigned_agent=agent, reference="REF-E2E-1")
    template = MessageTemplate.objects.get(objective="remind", channel="email", language="es", name="E-mail (remind)")
    old_version = template.current_version

    browser_login(admin_user)
    page.locator("nav a[href='/manage/templates/']").click()
    page.get_by_test_id("tpl-remind-email-es").click()
    body = page.locator("textarea[name=body]")
    body.fill(body.input_value().replace("Atentamente,", f"{NEW_LINE}\n\nAtentamente,"))
    page.select_option("select[name=case]", str(case.pk))
    preview = page.get_by_test_id("preview-body")
    preview.filter(has_text="Lucía Fernández").wait_for()
    assert NEW_LINE in preview.inner_text()
    assert "REF-E2E-1" in page.get_by_test_id("preview-subject").inner_text()
    screenshot("adminarea-template-preview")
    page.get_by_test_id("save-template").click()
    page.locator(".alert-success").wait_for()
    assert " 2" in page.locator(".alert-success").inner_text()
    screenshot("adminarea-template-saved")

    template.refresh_from_db()
    new_version = template.current_version
    assert new_version.number == 2 and new_version.created_by == admin_user and NEW_LINE in new_version.body

    # The engine plans the case's first reminder; make it due now and let beat's tick run it.
    followups_plan(case_ids=[case.pk], now=timezone.now())
    step = FollowUp.objects.get(case=case, status="pending", channel="email")
    FollowUp.objects.filter(pk=step.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    from contacts.tasks import tick

    tick.delay()
    message = _wait_for(lambda: OutboundMessage.objects.filter(case=case, status="sent").first())
    assert message.template_version_id == new_version.pk != old_version.pk
    assert NEW_LINE in message.body and "Lucía Fernández" in message.body
    sent = _wait_for(lambda: [m for m in mail.outbox if "lucia@example.com" in m.to])
    assert NEW_LINE in sent[0].body
