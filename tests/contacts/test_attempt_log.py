"""Logging a contact attempt (contacts.services.contact_attempt_log) moves the case on."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from cases.choices import CaseStatus
from contacts.services import contact_attempt_log
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_contact_attempt_log_updates_case_and_refuses_long_notes(agent, settings):
    case = CaseFactory(assigned_agent=agent, status=CaseStatus.NEW)
    attempt = contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="right_party", notes="ok")
    case.refresh_from_db()
    assert attempt.agent == agent and attempt.objective == case.objective
    assert case.status == CaseStatus.ACTIVE and case.last_outcome == "right_party"
    with pytest.raises(ValidationError) as exc:
        contact_attempt_log(actor=agent, case_id=case.pk, channel="phone", outcome="no_answer", notes="x" * (settings.CRM_NOTES_MAX_LENGTH + 1))
    assert "notes" in exc.value.message_dict
    assert case.attempts.count() == 1
