"""The app's database role (docker-compose's crm_app) writes rows but cannot touch the audit
trail's history or switch off its safeguards. Roles and grants are transactional in
PostgreSQL, so everything here is rolled back with the test."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from collections_crm.audit.models import AuditLog
from collections_crm.audit.services import audit_record
from collections_crm.core.bulk import foreign_key_checks_skipped
from collections_crm.core.dbroles import app_role_grant

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles are PostgreSQL's")

ROLE = "crm_test_app_role"


def _refused(sql: str, params=()) -> str:
    """Run ``sql`` in a savepoint and return PostgreSQL's refusal (the test fails if it ran)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        return str(error)
    raise AssertionError(f"the app role was allowed to run: {sql}")


@pytest.fixture
def as_app_role(db, admin_user):
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER")
    app_role_grant(role=ROLE)
    row = audit_record(actor=admin_user, action="case.test", obj=admin_user, after={"x": 1})
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {ROLE}")
    try:
        yield row
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def test_app_role_cannot_change_or_remove_audit_rows(as_app_role, admin_user):
    row = as_app_role
    table = AuditLog._meta.db_table
    assert "permission denied" in _refused(f"UPDATE {table} SET action = 'x' WHERE id = %s", [row.pk])
    assert "permission denied" in _refused(f"DELETE FROM {table} WHERE id = %s", [row.pk])
    assert "permission denied" in _refused(f"TRUNCATE {table}")
    # Nor switch off the append-only trigger, or every trigger at once.
    assert "must be owner" in _refused(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    assert "permission denied" in _refused("SET session_replication_role = replica")
    assert "must be owner" in _refused(f"DROP TABLE {table}")
    # What it must do, it can: read and append.
    with transaction.atomic():
        audit_record(actor=admin_user, action="case.test", obj=admin_user, after={"x": 2})
    assert AuditLog.objects.filter(action="case.test").count() == 2


def test_bulk_paths_keep_their_foreign_key_checks_under_the_app_role(as_app_role):
    with transaction.atomic(), foreign_key_checks_skipped() as skipped:
        assert skipped is False
        with connection.cursor() as cursor:
            cursor.execute("SHOW session_replication_role")
            assert cursor.fetchone()[0] == "origin"


def test_app_role_creates_staging_tables_only_in_its_work_schema(as_app_role):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE crm_work.imports_stage_test (line integer PRIMARY KEY)")
        cursor.execute("DROP TABLE crm_work.imports_stage_test")
    assert "permission denied" in _refused("CREATE TABLE public.imports_stage_test (line integer)")


def test_a_portfolio_import_runs_under_the_app_role(as_app_role, admin_user, settings, tmp_path):
    """The COPY fast path (staging table, set-based upserts, audit rows) works as the app role,
    its staging table in the work schema, the role's search path as docker-compose sets it."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cases.models import Case
    from collections_crm.imports.models import ImportStatus
    from collections_crm.imports.services import import_job_create, import_job_run, import_job_start
    from debtors.validators import dni_for
    from tests.factories import CreditorFactory

    settings.MEDIA_ROOT = tmp_path
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
        creditor = CreditorFactory(code="banco")
        cursor.execute(f"SET ROLE {ROLE}")
        cursor.execute("SET search_path = crm_work, public")
    rows = "".join(f"EXP-{i};{dni_for(10_000_000 + i)};Cliente {i};{100 + i},00;01/01/2025\r\n" for i in range(300))
    content = ("Referencia;DNI;Nombre;Importe;Vencimiento\r\n" + rows).encode("cp1252")
    job = import_job_create(actor=admin_user, creditor=creditor, kind="portfolio", upload=SimpleUploadedFile("c.csv", content))
    import_job_start(actor=admin_user, job_id=job.pk)
    job = import_job_run(job_id=job.pk, strategy="copy")
    assert job.status == ImportStatus.DONE, job.failure
    assert Case.objects.filter(creditor=creditor).count() == 300
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'imports_stage_%%'")
        assert cursor.fetchone()[0] == 0  # dropped with the job
