"""The audited write every service uses (audited_save, audited_delete): one audit row with only
the changed keys, in the caller's transaction, and nothing written when the change is refused."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Creditor
from collections_crm.accounts.models import Team
from collections_crm.audit.models import AuditLog
from collections_crm.audit.services import MASKED, audit_record, audited_delete, audited_save
from debtors.models import Debtor

from ..factories import CaseFactory, CreditorFactory, DebtorFactory

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
FIELDS = ["code", "name", "currency", "active", "retention_days"]


def _save(obj, changes, **options):
    with transaction.atomic():
        return audited_save(obj=obj, changes=changes, fields=options.pop("fields", FIELDS), actor=options.pop("actor", None),
                            action=options.pop("action", "creditor.updated"), at=AT, **options)


def _updates(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]


def test_update_saves_and_audits_only_the_changed_keys(admin_user):
    creditor = CreditorFactory(name="Old name", currency="EUR")
    with CaptureQueriesContext(connection) as queries:
        diff = _save(creditor, {"name": "New name", "currency": "EUR", "active": True}, actor=admin_user)
    assert diff == ({"name": "Old name"}, {"name": "New name"})
    (row,) = AuditLog.objects.all()
    assert (row.action, row.actor, row.at, row.object_type, row.object_id) == (
        "creditor.updated", admin_user, AT, "cases.creditor", str(creditor.pk))
    assert (row.before, row.after) == ({"name": "Old name"}, {"name": "New name"})
    # Only the changed column is written.
    (update,) = _updates(queries.captured_queries)
    assert '"name"' in update and '"currency"' not in update
    assert Creditor.objects.get(pk=creditor.pk).name == "New name"


def test_keys_outside_fields_are_ignored():
    creditor = CreditorFactory(name="Kept")
    assert _save(creditor, {"name": "Kept", "kind": "owner"}) == ({}, {})
    assert Creditor.objects.get(pk=creditor.pk).kind != "owner"


def test_nothing_changed_writes_nothing():
    creditor = CreditorFactory(name="Same")
    with CaptureQueriesContext(connection) as queries:
        assert _save(creditor, {"name": "Same"}) == ({}, {})
    assert not _updates(queries.captured_queries)
    assert not AuditLog.objects.exists()


def test_save_unchanged_writes_the_fields_and_stamps_but_no_audit_row():
    debtor = DebtorFactory()
    Debtor.objects.filter(pk=debtor.pk).update(updated_at=AT - dt.timedelta(days=1))
    debtor.refresh_from_db()
    assert _save(debtor, {"deceased": False}, fields=["deceased"], clean=False, save_unchanged=True) == ({}, {})
    assert Debtor.objects.get(pk=debtor.pk).updated_at > AT
    assert not AuditLog.objects.exists()


def test_auto_now_stamps_and_touched_fields_are_saved_with_a_change(admin_user):
    debtor = DebtorFactory()
    Debtor.objects.filter(pk=debtor.pk).update(updated_at=AT - dt.timedelta(days=1))
    debtor.refresh_from_db()
    _save(debtor, {"deceased": True}, fields=["deceased"], clean=False, action="debtor.flags_changed")
    debtor.refresh_from_db()
    assert debtor.deceased and debtor.updated_at > AT
    assert AuditLog.objects.get().after == {"deceased": True}


def test_validation_failure_writes_nothing():
    creditor = CreditorFactory(retention_days=100)
    with pytest.raises(ValidationError) as exc:
        _save(creditor, {"retention_days": 0, "name": "Changed"})
    assert "retention_days" in exc.value.message_dict
    creditor.refresh_from_db()
    assert (creditor.retention_days, creditor.name) != (0, "Changed")
    assert not AuditLog.objects.exists()


def test_unique_checks_can_be_left_to_the_database_or_skipped():
    taken = CreditorFactory()
    creditor = CreditorFactory()
    with pytest.raises(ValidationError) as exc:
        _save(creditor, {"code": taken.code})
    assert "code" in exc.value.message_dict
    # Without validate_unique the field checks still run (and the database refuses the duplicate).
    with pytest.raises(ValidationError):
        _save(creditor, {"code": "not a slug!"}, validate_unique=False)
    assert not AuditLog.objects.exists()


def test_check_runs_after_the_changes_with_the_snapshot_before_and_may_refuse_or_normalise():
    creditor = CreditorFactory(name="Before", currency="EUR")
    seen = []

    def check(obj, before):
        seen.append((obj.name, before["name"]))
        obj.currency = obj.currency.upper()
        if obj.name == "Refused":
            raise ValidationError({"name": "No."})

    with pytest.raises(ValidationError):
        _save(creditor, {"name": "Refused"}, check=check)
    assert not AuditLog.objects.exists()
    creditor = Creditor.objects.get(pk=creditor.pk)
    assert _save(creditor, {"name": "After", "currency": "usd"}, check=check) == (
        {"name": "Before", "currency": "EUR"}, {"name": "After", "currency": "USD"})
    assert seen == [("Refused", "Before"), ("After", "Before")]


def test_private_fields_are_audited_as_changed_without_their_values():
    debtor = DebtorFactory(name="María García", country="ES")
    diff = _save(debtor, {"name": "María G.", "country": "PT"}, fields=["name", "country"], private={"name"},
                 action="debtor.updated", validate_unique=False)
    assert diff == ({"name": MASKED, "country": "ES"}, {"name": MASKED, "country": "PT"})
    assert AuditLog.objects.get().after == {"name": MASKED, "country": "PT"}
    assert Debtor.objects.get(pk=debtor.pk).name == "María G."


def test_creation_inserts_and_audits_the_fields_that_are_set(supervisor):
    team = Team()
    diff = _save(team, {"name": "Recobro", "supervisor_id": supervisor.pk}, fields=["name", "supervisor_id", "agents_see_team_cases"],
                 action="team.created")
    assert team.pk is not None
    # Before: each audited key as None; a field left empty is not audited at all.
    after = {"name": "Recobro", "supervisor_id": supervisor.pk, "agents_see_team_cases": False}
    assert diff == (dict.fromkeys(after), after)
    row = AuditLog.objects.get()
    assert (row.action, row.object_id, row.before, row.after) == ("team.created", str(team.pk), dict.fromkeys(after), after)
    assert _save(Team(), {"name": "Sin supervisor"}, fields=["name", "supervisor_id"], action="team.created")[1] == {"name": "Sin supervisor"}


def test_outside_a_transaction_it_refuses_before_writing():
    creditor = CreditorFactory(name="Before")
    # As in autocommit (the test itself runs in a transaction): the row must not be saved first.
    with mock.patch.object(connections["default"], "in_atomic_block", False):
        with pytest.raises(RuntimeError):
            audited_save(obj=creditor, changes={"name": "After"}, fields=FIELDS, actor=None, action="creditor.updated", at=AT)
        with pytest.raises(RuntimeError):
            audited_delete(obj=creditor, fields=FIELDS, actor=None, action="creditor.deleted", at=AT)
    assert Creditor.objects.get(pk=creditor.pk).name == "Before"


def test_delete_keeps_the_last_values_in_the_audit_row(admin_user):
    creditor = CreditorFactory(name="Gone")
    pk = creditor.pk
    with transaction.atomic():
        audited_delete(obj=creditor, fields=["name"], actor=admin_user, action="creditor.deleted", at=timezone.now())
    assert not Creditor.objects.filter(pk=pk).exists()
    row = AuditLog.objects.get()
    assert (row.action, row.object_id, row.before, row.after) == ("creditor.deleted", str(pk), {"name": "Gone"}, None)


# Serialized rollback keeps the seed data for the transactional tests that run after this one.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_audit_record_outside_transaction_is_a_bug(agent):
    case = CaseFactory()
    with pytest.raises(RuntimeError):
        audit_record(actor=agent, action="x", obj=case)
