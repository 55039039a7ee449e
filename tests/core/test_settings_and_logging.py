from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(env_extra: dict, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY", "DJANGO_DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(env_extra)
    return subprocess.run([sys.executable, "manage.py", "check", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_production_without_secret_key_fails_loudly(tmp_path):
    result = _check({"DJANGO_DEBUG": "false", "CRM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_unsupported_database_fails_loudly(tmp_path):
    result = _check({"DATABASE_URL": "mysql://u:p@localhost/db", "CRM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "PostgreSQL or SQLite" in result.stderr


def test_deploy_checks_pass_with_production_variables(tmp_path):
    result = _check(
        {
            "DJANGO_DEBUG": "false",
            "SECRET_KEY": "x" * 20 + "-a-long-random-production-secret-value-" + "y" * 20,
            "ALLOWED_HOSTS": "crm.example.com",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "CRM_VAR_DIR": str(tmp_path),
        },
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pii_is_redacted_from_logs(caplog):
    from collections_crm.core.logging import RedactPIIFilter

    logger = logging.getLogger("crm.test")
    logger.addFilter(RedactPIIFilter())
    with caplog.at_level(logging.INFO, logger="crm.test"):
        logger.info("Calling %s at %s (DNI %s)", "ana@example.com", "+34 612 345 678", "12345678Z")
    text = caplog.records[0].getMessage()
    assert "ana@example.com" not in text and "612 345 678" not in text and "12345678Z" not in text
    assert "[email]" in text and "[phone]" in text and "[document]" in text


@pytest.mark.django_db
def test_demo_command_creates_every_role_and_is_idempotent():
    from django.core.management import call_command

    from cases.models import Case, Payment, PaymentPlan, PromiseToPay
    from collections_crm.accounts.models import Role, User
    from contacts.models import ContactAttempt

    call_command("seed_demo", cases=60, quiet=True)
    assert {Role.AGENT, Role.SUPERVISOR, Role.ADMIN} <= set(User.objects.values_list("role", flat=True))
    counts = (Case.objects.count(), ContactAttempt.objects.count(), PromiseToPay.objects.count(), Payment.objects.count())
    assert counts[0] == 60 and counts[1] > 60
    statuses = set(Case.objects.values_list("status", flat=True))
    assert {"new", "active"} <= statuses
    # One plan beyond the guardrails waits for a supervisor (the inbox is not empty in the demo).
    [proposed] = PaymentPlan.objects.filter(status="proposed")
    assert proposed.instalment_count == 18 and proposed.case.assigned_agent.username == "agent"
    call_command("seed_demo", cases=60, quiet=True)
    assert (Case.objects.count(), ContactAttempt.objects.count(), PromiseToPay.objects.count(), Payment.objects.count()) == counts
    call_command("seed_demo", cases=80, quiet=True)
    assert Case.objects.count() == 80 and PaymentPlan.objects.filter(status="proposed").count() == 1
    for case in Case.objects.all():
        case.full_clean()
        paid = sum(p.amount for p in case.payments.all())
        assert case.balance == case.original_amount + case.fees - paid
