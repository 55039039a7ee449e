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


# --- Personal data in logs ------------------------------------------------------------------

@pytest.mark.parametrize(
    "text",
    [
        "2026-12-02 06:23:14",
        "due 2026-12-02T06:23:14.123456+00:00",
        "from 2026-12-01 to 2026-12-02 15:00",
        "02-12-2026 15:00",
        "epoch 1764656594, in ms 1764656594123",
        "balance 1.234.567,89 EUR, 123456789.50 USD, 12 345 678,90",
        "uuid 123e4567-e89b-12d3-a456-426614174000 ip 192.168.100.200",
        "case 4521 took 340 ms (0.123456789 s) version 1.2.3",
    ],
)
def test_dates_timestamps_and_amounts_are_not_taken_for_phones(text):
    from collections_crm.core.logging import redact

    assert redact(text) == text


@pytest.mark.parametrize(
    "text,expected",
    [
        ("+34 612 345 678", "[phone]"),
        ("+34612345678", "[phone]"),
        ("612345678", "[phone]"),
        ("612 34 56 78", "[phone]"),
        ("91 123 45 67", "[phone]"),
        ("+1 (555) 123-4567", "[phone]"),
        ("call 612-345-678.", "call [phone]."),
        ("phone=%2B34612345678", "phone=[phone]"),
        ("12345678Z", "[document]"),
        ("1234567-L", "[document]"),
        ("X1234567L", "[document]"),
        ("B12345678", "[document]"),
        ("ana.p+x@mail.example.es", "[email]"),
        ("ES91 2100 0418 4502 0005 1332", "[iban]"),
    ],
)
def test_phones_documents_emails_and_ibans_are_masked(text, expected):
    from collections_crm.core.logging import redact

    assert redact(text) == expected


def test_query_strings_keep_keys_and_lose_every_value():
    from collections_crm.core.logging import mask_query_string, mask_url

    assert mask_query_string("q=Ana+P%C3%A9rez&document=12345678Z&page=2&flag") == "q=[redacted]&document=[redacted]&page=[redacted]&flag"
    assert mask_url("https://crm.example.com/cases/?q=612345678") == "https://crm.example.com/cases/?q=[redacted]"
    assert mask_url("https://crm.example.com/cases/") == "https://crm.example.com/cases/"


def _emit_through(formatter: logging.Formatter, log_call) -> str:
    """What a handler configured like settings.LOGGING's console handler writes."""
    import io

    from collections_crm.core.logging import RedactPIIFilter
    from collections_crm.observability.context import LogContextFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(LogContextFilter())
    handler.addFilter(RedactPIIFilter())
    logger = logging.getLogger("crm.test.handler")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        log_call(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    return stream.getvalue()


def _fail_with_pii(logger):
    try:
        raise ValueError("no debtor ana@example.com with phone +34 612 345 678 (DNI 12345678Z)")
    except ValueError:
        logger.exception("lookup failed for %s", "ana@example.com", extra={"document": "12345678Z"}, stack_info=True)


@pytest.mark.parametrize("kind", ["plain", "json"])
def test_tracebacks_stacks_and_extras_are_redacted(kind):
    import json

    from collections_crm.core.logging import JsonFormatter

    formatter = JsonFormatter() if kind == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    text = _emit_through(formatter, _fail_with_pii)
    assert "ana@example.com" not in text and "612 345 678" not in text and "12345678Z" not in text
    assert "ValueError: no debtor [email] with phone [phone] (DNI [document])" in text
    assert "Stack (most recent call last)" in text  # the stack is there, redacted
    if kind == "json":
        line = json.loads(text)
        assert line["level"] == "ERROR" and line["message"] == "lookup failed for [email]" and line["document"] == "[document]"
        assert "ValueError" in line["exc_info"] and "time" in line
        assert "request_id" not in line  # no request: empty context is left out


def test_a_timestamp_in_a_message_survives_redaction():
    text = _emit_through(logging.Formatter("%(message)s"), lambda log: log.warning("claimed at %s", "2026-12-02 06:23:14"))
    assert text.strip() == "claimed at 2026-12-02 06:23:14"


def test_json_logs_in_production_or_on_request(tmp_path):
    """LOG_FORMAT=json (the default when DJANGO_DEBUG=false) makes every record a JSON line."""
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", "LOG_FORMAT", "SENTRY_DSN")}
    env.update({"LOG_FORMAT": "json", "CRM_VAR_DIR": str(tmp_path)})
    code = "import django, logging; django.setup(); logging.getLogger('crm.x').warning('sms to %s', '+34612345678')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**env, "DJANGO_SETTINGS_MODULE": "collections_crm.settings"},
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(raw) for raw in result.stderr.splitlines() if raw.startswith("{")]
    assert line["message"] == "sms to [phone]" and line["logger"] == "crm.x" and line["level"] == "WARNING"
    result = _check({"LOG_FORMAT": "xml", "CRM_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0 and "LOG_FORMAT" in result.stderr


def test_log_format_follows_debug_unless_set():
    from collections_crm.core.logging import log_format_from_env

    assert log_format_from_env({}) == "plain"
    assert log_format_from_env({"DJANGO_DEBUG": "false"}) == "json"
    assert log_format_from_env({"DJANGO_DEBUG": "false", "LOG_FORMAT": "plain"}) == "plain"
    assert log_format_from_env({"LOG_FORMAT": "JSON"}) == "json"


def test_console_sms_prints_no_body_outside_debug(settings, capsys):
    from contacts.messaging.sms import ConsoleSMSBackend

    settings.DEBUG = False
    ConsoleSMSBackend().send(to="+34612345678", body="Hola Ana, su deuda es de 120 €", idempotency_key="k-1")
    out = capsys.readouterr().out
    assert out == "SMS k-1 to +34******678: 30 characters\n"
    settings.DEBUG = True
    ConsoleSMSBackend().send(to="+34612345678", body="Hola Ana", idempotency_key="k-2")
    assert "Hola Ana" in capsys.readouterr().out  # development shows the message


# --- gunicorn -------------------------------------------------------------------------------

class _Response:
    status = "200 OK"
    sent = 512
    headers = [("Content-Type", "text/html"), ("X-Request-ID", "0123456789abcdef")]


def _gunicorn_access_line(access_log_format: str | None = None) -> tuple[str, logging.LogRecord]:
    import datetime as dt

    from gunicorn.config import Config

    from collections_crm.observability.gunicorn_logging import RedactingLogger

    cfg = Config()
    cfg.set("accesslog", "-")
    if access_log_format:
        cfg.set("access_log_format", access_log_format)
    logger = RedactingLogger(cfg)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.access_log.handlers = [handler]
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": "/cases/?q=Ana+P%C3%A9rez&phone=612345678", "PATH_INFO": "/cases/",
        "QUERY_STRING": "q=Ana+P%C3%A9rez&phone=612345678", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
        "HTTP_REFERER": "https://crm.example.com/cases/?document=12345678Z", "HTTP_USER_AGENT": "pytest",
    }
    request_headers = [("REFERER", environ["HTTP_REFERER"]), ("USER-AGENT", "pytest")]
    logger.access(_Response(), request_headers, environ, dt.timedelta(milliseconds=42))
    [record] = records
    return record.getMessage(), record


def test_gunicorn_access_log_never_writes_query_values():
    text, record = _gunicorn_access_line()
    assert "Ana" not in text and "612345678" not in text and "12345678Z" not in text
    assert '"GET /cases/?q=[redacted]&phone=[redacted] HTTP/1.1" 200 512' in text
    assert '"https://crm.example.com/cases/?document=[redacted]"' in text  # gunicorn's default format
    # Whatever format an operator writes, the atoms themselves are masked.
    text, record = _gunicorn_access_line("%(r)s %(q)s %(f)s %({referer}i)s %({query_string}e)s %({raw_uri}e)s rid=%({x-request-id}o)s")
    assert "Ana" not in text and "612345678" not in text and "12345678Z" not in text
    assert text.endswith("rid=0123456789abcdef")
    assert record.query == "q=[redacted]&phone=[redacted]" and record.status_code == 200 and record.request_id == "0123456789abcdef"


def test_gunicorn_config_is_valid_and_reads_the_environment(tmp_path):
    import json

    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_DEBUG", "LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR")}
    env.update({"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "4", "GUNICORN_TIMEOUT": "90", "TMPDIR": str(tmp_path), "CRM_VAR_DIR": str(tmp_path),
                "DJANGO_DEBUG": "false", "SECRET_KEY": "k" * 60, "SECURE_SSL_REDIRECT": "false"})
    code = (
        "import json, runpy; c = runpy.run_path('gunicorn.conf.py'); "
        "print(json.dumps({k: c[k] for k in ('bind', 'workers', 'threads', 'timeout', 'forwarded_allow_ips', 'logger_class', "
        "'access_log_format')} | {'json': 'logconfig_dict' in c, 'multiproc': __import__('os').environ['PROMETHEUS_MULTIPROC_DIR']}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    conf = json.loads(result.stdout)
    assert conf["bind"] == "0.0.0.0:8000" and (conf["workers"], conf["threads"], conf["timeout"]) == (3, 4, 90)
    assert conf["forwarded_allow_ips"] == "127.0.0.1,::1" and conf["json"] is True
    assert conf["logger_class"].endswith("RedactingLogger") and "%(q)s" not in conf["access_log_format"]
    assert conf["multiproc"].startswith(str(tmp_path))
    check = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "--check-config", "-c", "gunicorn.conf.py",
                            "collections_crm.wsgi:application"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_request_django_logs_with_a_404_keeps_its_query_string_out(rf):
    import json

    from collections_crm.core.logging import JsonFormatter

    request = rf.get("/cases/99/", {"q": "612345678", "email": "ana@example.com"})
    text = _emit_through(JsonFormatter(), lambda log: log.warning("Not Found: %s", request.path, extra={"request": request, "status_code": 404}))
    line = json.loads(text)
    assert line["request"] == "GET /cases/99/" and line["status_code"] == 404
    assert "612345678" not in text and "ana@example.com" not in text
