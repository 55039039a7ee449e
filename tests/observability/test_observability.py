"""Error tracking without personal data, request ids and the log context of requests and tasks."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.urls import path

ROOT = Path(__file__).resolve().parents[2]
PII = ("ana@example.com", "612345678", "612 345 678", "12345678Z", "Ana Pérez", "Ana+P%C3%A9rez")


def _assert_no_pii(text: str) -> None:
    for value in PII:
        assert value not in text, value


# --- Sentry ---------------------------------------------------------------------------------

# The shape of an event as the Django integration hands it to before_send (already serialised).
SENTRY_EVENT = {
    "event_id": "5b9a4d4c1e2f4b6c8a0d1e2f3a4b5c6d",
    "level": "error",
    "platform": "python",
    "timestamp": "2026-12-02T06:23:14.123456Z",
    "release": "41c0b14123456789",
    "message": "Payment refused for ana@example.com",
    "logentry": {"message": "Could not reach %s at %s", "params": ["ana@example.com", "+34 612 345 678"],
                 "formatted": "Could not reach ana@example.com at +34 612 345 678"},
    "exception": {
        "values": [
            {
                "type": "ValueError",
                "value": "No debtor with document 12345678Z (phone 612345678)",
                "module": None,
                "stacktrace": {
                    "frames": [
                        {"filename": "cases/services.py", "function": "payment_post", "lineno": 120,
                         "vars": {"name": "'Ana Pérez'", "phone": "'612345678'"}},
                    ]
                },
            }
        ]
    },
    "breadcrumbs": {
        "values": [
            {"type": "default", "category": "query", "message": "SELECT … WHERE document_number = %s",
             "data": {"db.params": ["12345678Z"], "db.system": "postgresql"}, "timestamp": "2026-12-02T06:23:13Z"},
            {"type": "http", "category": "httplib", "data": {"url": "https://sms.example.com/send?to=612345678", "method": "POST",
                                                            "http.query": "to=612345678&text=Hola%20Ana"}},
            {"type": "log", "category": "cases", "message": "contact ana@example.com", "level": "info"},
        ]
    },
    "request": {
        "url": "https://crm.example.com/cases/",
        "method": "GET",
        "query_string": "q=Ana+P%C3%A9rez&document=12345678Z",
        "data": {"notes": "Habla Ana Pérez, 612 345 678", "amount": "100.00"},
        "cookies": {"sessionid": "abc"},
        "headers": {"Referer": "https://crm.example.com/cases/?q=612345678", "Cookie": "sessionid=abc", "User-Agent": "Mozilla"},
        "env": {"REMOTE_ADDR": "10.0.0.7", "SERVER_NAME": "crm"},
    },
    "user": {"id": "7", "email": "ana@example.com", "ip_address": "10.0.0.7"},
    "extra": {"debtor": "Ana ana@example.com 12345678Z", "sys.argv": ["manage.py"]},
    "tags": {"phone": "+34612345678", "request_id": "0123456789abcdef"},
    "contexts": {"trace": {"trace_id": "123456789abcdef0123456789abcdef0", "span_id": "0123456789abcdef"}},
}


def test_sentry_events_are_scrubbed_of_pii():
    from collections_crm.observability.sentry import scrub_event

    event = scrub_event(copy.deepcopy(SENTRY_EVENT), {})
    _assert_no_pii(json.dumps(event, ensure_ascii=False))
    assert event["exception"]["values"][0]["value"] == "No debtor with document [document] (phone [phone])"
    assert "vars" not in event["exception"]["values"][0]["stacktrace"]["frames"][0]
    assert event["logentry"]["formatted"] == "Could not reach [email] at [phone]"
    assert event["request"]["query_string"] == "q=[redacted]&document=[redacted]"
    assert event["request"]["data"] == {"notes": "[redacted]", "amount": "[redacted]"}
    assert "cookies" not in event["request"] and "Cookie" not in event["request"]["headers"]
    assert event["user"] == {"id": "7"}
    # Ids, times and the release are left alone.
    assert event["timestamp"] == SENTRY_EVENT["timestamp"] and event["release"] == SENTRY_EVENT["release"]
    assert event["contexts"]["trace"] == SENTRY_EVENT["contexts"]["trace"] and event["tags"]["request_id"] == "0123456789abcdef"


def test_sentry_transactions_and_breadcrumbs_are_scrubbed():
    from collections_crm.observability.sentry import scrub_breadcrumb, scrub_event

    transaction = {
        "type": "transaction", "transaction": "/cases/<int:case_id>/",
        "request": {"url": "https://crm.example.com/cases/5/", "query_string": "phone=612345678"},
        "spans": [
            {"op": "db", "description": "SELECT … WHERE email = 'ana@example.com'", "data": {"db.params": ["ana@example.com"]}},
            {"op": "http.client", "description": "GET https://api.example.com/lookup?dni=12345678Z", "data": {}},
        ],
    }
    _assert_no_pii(json.dumps(scrub_event(transaction, {})))
    crumb = scrub_breadcrumb({"category": "cases", "message": "sent to 612 345 678", "data": {"to": "ana@example.com"}}, {})
    assert crumb == {"category": "cases", "message": "sent to [phone]", "data": {"to": "[email]"}}


def test_sentry_is_not_started_without_a_dsn(settings):
    import sentry_sdk

    from collections_crm.observability.sentry import sentry_init

    assert settings.SENTRY_DSN == ""
    assert not sentry_sdk.get_client().is_active()
    assert sentry_init(dsn="", environment="test", release=None, traces_sample_rate=0.0) is False
    assert not sentry_sdk.get_client().is_active()


def test_sentry_starts_from_the_settings_with_a_dsn(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    env.update({"SENTRY_DSN": "https://public@o0.ingest.invalid/1", "SENTRY_ENVIRONMENT": "staging", "CRM_VAR_DIR": str(tmp_path),
                "DJANGO_SETTINGS_MODULE": "collections_crm.settings"})
    code = (
        "import django, json, sentry_sdk; django.setup(); c = sentry_sdk.get_client(); o = c.options; "
        "print(json.dumps({'active': c.is_active(), 'env': o['environment'], 'pii': o['send_default_pii'], "
        "'locals': o['include_local_variables'], 'rate': o['traces_sample_rate'], "
        "'before_send': o['before_send'].__name__, 'integrations': sorted(c.integrations)}))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout.strip().splitlines()[-1])
    assert options["active"] is True and options["env"] == "staging" and options["rate"] == 0.0
    assert options["pii"] is False and options["locals"] is False and options["before_send"] == "scrub_event"
    assert {"django", "celery"} <= set(options["integrations"])


# --- Request ids and the log context ---------------------------------------------------------

def _pii_view(request, case_id):
    logging.getLogger("cases.test").warning("called %s at %s", "ana@example.com", "612345678")
    try:
        raise LookupError("debtor 12345678Z not found")
    except LookupError:
        logging.getLogger("cases.test").exception("lookup failed")
    return HttpResponse("ok")


urlpatterns = [path("cases/<int:case_id>/pii/", _pii_view, name="pii")]


@pytest.fixture
def json_log():
    """Records of a request, written as production writes them (settings.LOGGING's console
    handler in JSON mode): yields a function returning the parsed lines."""
    from collections_crm.core.logging import JsonFormatter, RedactPIIFilter
    from collections_crm.observability.context import LogContextFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(LogContextFilter())
    handler.addFilter(RedactPIIFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: (stream.getvalue(), [json.loads(line) for line in stream.getvalue().splitlines()])
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.mark.django_db
def test_a_case_page_request_logs_one_json_line_with_its_context(client, case, agent, settings, json_log):
    settings.LOG_REQUESTS = True
    client.force_login(agent)
    response = client.get(f"/cases/{case.pk}/", HTTP_X_REQUEST_ID="req-0123456789")
    assert response.status_code == 200 and response["X-Request-ID"] == "req-0123456789"
    text, lines = json_log()
    [line] = [entry for entry in lines if entry["logger"] == "collections_crm.request"]
    assert line["request_id"] == "req-0123456789" and line["user_id"] == agent.pk and line["case_id"] == case.pk
    assert line["view"] == "desk:detail" and line["status_code"] == 200 and line["http_method"] == "GET"
    assert case.debtor.name not in text and case.debtor.document_number not in text


@pytest.mark.django_db
@pytest.mark.urls("tests.observability.test_observability")
def test_log_lines_of_a_request_carry_its_context_and_no_pii(client, agent, json_log):
    client.force_login(agent)
    response = client.get("/cases/42/pii/?q=Ana+P%C3%A9rez")
    rid = response["X-Request-ID"]
    assert len(rid) == 32  # none given: one is made
    text, lines = json_log()
    _assert_no_pii(text)
    warning, error = [entry for entry in lines if entry["logger"] == "cases.test"]
    assert warning["message"] == "called [email] at [phone]"
    assert "LookupError: debtor [document] not found" in error["exc_info"]
    for entry in (warning, error):
        assert (entry["request_id"], entry["user_id"], entry["case_id"]) == (rid, agent.pk, 42)


@pytest.mark.parametrize("header", ["", "short", "has spaces in it", "x" * 200, "612345678-123", "<script>alert(1)</script>"])
def test_an_odd_request_id_header_is_replaced(header):
    from collections_crm.observability.context import request_id_from_header

    rid = request_id_from_header(header)
    assert rid != header and len(rid) == 32


def test_the_context_is_cleared_after_a_request(rf):
    from collections_crm.observability import context
    from collections_crm.observability.middleware import RequestContextMiddleware

    seen = {}

    def view(request):
        seen["rid"] = context.request_id_var.get()
        return HttpResponse()

    RequestContextMiddleware(view)(rf.get("/"))
    assert seen["rid"] and context.request_id_var.get() is None and context.user_id_var.get() is None


def test_celery_tasks_set_their_id_and_name_in_the_log_context():
    from celery.signals import task_postrun, task_prerun

    from collections_crm.core.logging import JsonFormatter
    from collections_crm.observability.context import LogContextFilter

    class Task:
        name = "contacts.tick"

    record = logging.LogRecord("contacts.tasks", logging.INFO, __file__, 1, "tick", None, None)
    task_prerun.send(sender=Task, task_id="c0ffee00-0000-4000-8000-000000000001", task=Task(), args=(), kwargs={})
    try:
        LogContextFilter().filter(record)
    finally:
        task_postrun.send(sender=Task, task_id="c0ffee00-0000-4000-8000-000000000001", task=Task(), args=(), kwargs={}, retval=None)
    line = json.loads(JsonFormatter().format(record))
    assert line["task_id"] == "c0ffee00-0000-4000-8000-000000000001" and line["task_name"] == "contacts.tick"
    after = logging.LogRecord("contacts.tasks", logging.INFO, __file__, 1, "idle", None, None)
    LogContextFilter().filter(after)
    assert after.task_id is None and after.task_name is None
