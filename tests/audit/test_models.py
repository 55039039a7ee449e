"""The audit log is append-only: in the ORM, and on PostgreSQL in the database itself."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from cases.services import case_assign
from collections_crm.audit.models import AuditLog
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_audit_log_is_append_only(agent):
    case = CaseFactory(assigned_agent=agent)
    with transaction.atomic():
        case_assign(actor=agent, case_id=case.pk, agent=None)
    entry = AuditLog.objects.first()
    entry.action = "tampered"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        AuditLog.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditLog.objects.update(action="x")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_audit_log_trigger_refuses_raw_sql_on_postgresql(agent):
    case = CaseFactory(assigned_agent=agent)
    case_assign(actor=agent, case_id=case.pk, agent=None)
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditlog SET action = 'x'")
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditlog")
    assert AuditLog.objects.count() >= 1
