"""Every message the engine writes records the exact template version it used: an edit and a
rollback change what the next message says, never what an earlier one recorded."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.engine import followups_claim_due, followups_execute, followups_plan
from contacts.models import FollowUp, JurisdictionPack, MessageTemplate, OutboundMessage
from contacts.services import template_save_version

from ..factories import CaseFactory, ContactPointFactory, DebtorFactory

pytestmark = pytest.mark.django_db


def _send_first_reminder(case, now) -> OutboundMessage:
    followups_plan(case_ids=[case.pk], now=now)
    FollowUp.objects.filter(case=case, status="pending", channel="email").update(due_at=now - dt.timedelta(minutes=1))
    [followup_id] = followups_claim_due(now=now)
    assert followups_execute(followup_ids=[followup_id], now=now)[followup_id] == "queued"
    return OutboundMessage.objects.get(followup_id=followup_id)


def test_each_message_records_the_version_it_was_written_with(admin_user):
    JurisdictionPack.objects.create(code="test-any-time", name="Any time", countries="XX", start_time=dt.time(0),
                                    end_time=dt.time(23, 59, 59), weekdays="1,2,3,4,5,6,7", consent_channels="")
    template = MessageTemplate.objects.get(objective="remind", channel="email", language="es", name="E-mail (remind)")
    original = template.current_version
    now = timezone.now()

    def new_case(n: int):
        debtor = DebtorFactory(language="es", country="XX")
        ContactPointFactory(debtor=debtor, kind="email", value=f"d{n}@example.com")
        return CaseFactory(debtor=debtor)

    edited = template_save_version(actor=admin_user, template_id=template.pk, subject="Aviso {{ case_reference }}",
                                   body="Versión editada para {{ debtor_name }}.\n{{ opt_out_text }}")
    first = _send_first_reminder(new_case(1), now)
    assert first.template_version == edited
    assert first.subject.startswith("Aviso ") and first.body.startswith("Versión editada para ")

    restored = template_save_version(actor=admin_user, template_id=template.pk, subject=original.subject, body=original.body,
                                     rollback_of=original.number)
    second = _send_first_reminder(new_case(2), now)
    assert second.template_version == restored and restored.number == 3
    assert second.body.startswith("Estimado/a ")
    first.refresh_from_db()
    assert first.template_version == edited  # history is never rewritten
