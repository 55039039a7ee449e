"""Least privilege on PostgreSQL: the web app and the workers connect as a role that can read and
write rows but owns nothing, so it cannot alter tables, disable triggers (the audit log's
append-only trigger among them), switch off foreign-key checks (``session_replication_role``
needs a superuser) or change the audit trail. Migrations run as the owner role, which then calls
``app_role_grant`` (``manage.py db_grant_app_role``) to give the app role what it needs.

The app role also writes the import staging tables; it creates them in a schema of its own
(``crm_work``, first on its ``search_path``), never among the owner's tables."""

from __future__ import annotations

from django.db import connection

# Rows of these tables are never changed or removed by the app (the trigger refuses it as well).
APPEND_ONLY_TABLES = ("audit_auditlog",)


def app_role_grant(*, role: str, schema: str = "public", work_schema: str = "crm_work") -> list[str]:
    """Grant ``role`` row access to every table and sequence of ``schema`` (now and, through
    default privileges, for tables the current role creates later), no UPDATE/DELETE/TRUNCATE on
    append-only tables, and its own ``work_schema``. Idempotent; returns the statements run."""
    q = connection.ops.quote_name
    r, s, w = q(role), q(schema), q(work_schema)
    statements = [
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {r}",
        *(f"REVOKE UPDATE, DELETE, TRUNCATE ON {q(table)} FROM {r}" for table in APPEND_ONLY_TABLES),
        f"CREATE SCHEMA IF NOT EXISTS {w}",
        f"GRANT USAGE, CREATE ON SCHEMA {w} TO {r}",
    ]
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
    return statements
