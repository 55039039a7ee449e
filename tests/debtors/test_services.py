"""Debtor services: documents are validated, contact points normalised, every change audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from collections_crm.audit.models import AuditLog
from debtors.services import debtor_create, debtor_set_flags

pytestmark = pytest.mark.django_db


def test_debtor_create_validates_document_and_audits(agent):
    with pytest.raises(ValidationError) as exc:
        debtor_create(actor=agent, name="Juan", document_type="dni", document_number="12345678A")  # wrong letter
    assert "document_number" in exc.value.message_dict
    debtor = debtor_create(
        actor=agent, name="Juan", document_type="dni", document_number="12345678-z",
        contact_points=[{"kind": "phone", "value": "612 34 56 78"}, {"kind": "email", "value": "Juan@Example.com"}],
    )
    assert debtor.document_number == "12345678Z"
    assert sorted(debtor.contact_points.values_list("value", flat=True)) == ["+34612345678", "juan@example.com"]
    assert AuditLog.objects.filter(action="contact_point.added").count() == 2
    debtor_set_flags(actor=agent, debtor_id=debtor.pk, cease_communication=True)
    entry = AuditLog.objects.get(action="debtor.flags_changed")
    assert entry.after == {"cease_communication": True}
