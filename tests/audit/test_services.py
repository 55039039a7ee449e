"""audit_record writes its row in the caller's transaction, never outside one."""

from __future__ import annotations

import pytest

from tests.factories import CaseFactory


# Serialized rollback keeps the seed data for the transactional tests that run after this one.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_audit_record_outside_transaction_is_a_bug(agent):
    from collections_crm.audit.services import audit_record

    case = CaseFactory()
    with pytest.raises(RuntimeError):
        audit_record(actor=agent, action="x", obj=case)
