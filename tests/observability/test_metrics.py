"""/metrics: who may read it, the latency histogram, and the gauges read from the database and
the broker at scrape time."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from tests.brokers import TEST_REDIS_URL, requires_redis
from tests.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-0123456789abcdef"
NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)


def _samples(text: str) -> dict[tuple, float]:
    """{(sample name, (label, value), …): value} of an exposition."""
    return {
        (s.name, *sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _scrape(client, **headers) -> dict[tuple, float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/plain")
    return _samples(response.content.decode())


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    return {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def no_broker(settings):
    settings.CELERY_BROKER_URL = "filesystem://"


# --- who may read it -----------------------------------------------------------------------

def test_the_public_and_non_admins_get_404(client, agent, supervisor, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404  # not a redirect to the login page either
    for user in (agent, supervisor):
        client.force_login(user)
        assert client.get("/metrics").status_code == 404


def test_a_wrong_token_is_refused_even_for_an_admin(client, admin_user, token):
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token-0123456789").status_code == 404
    client.force_login(admin_user)
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong-token-0123456789").status_code == 404
    assert client.get("/metrics").status_code == 200  # a logged-in admin without a token header


def test_the_token_or_an_admin_may_read_it(client, admin_user, token, settings):
    assert client.get("/metrics", **token).status_code == 200
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", **token).status_code == 404  # no token configured: none accepted
    client.force_login(admin_user)
    assert client.get("/metrics").status_code == 200
    assert client.post("/metrics").status_code in (403, 405)


# --- the latency histogram -----------------------------------------------------------------

def test_a_page_request_shows_up_under_its_route_name(client, agent, token):
    key = ("crm_http_request_duration_seconds_count", ("method", "GET"), ("status", "2xx"), ("view", "home"))
    before = _scrape(client, **token).get(key, 0)
    client.force_login(agent)
    assert client.get("/").status_code == 200
    assert client.get("/?q=612345678").status_code == 200
    client.logout()
    after = _scrape(client, **token)
    assert after[key] == before + 2
    case = CaseFactory(assigned_agent=agent)
    client.force_login(agent)
    client.get(f"/cases/{case.pk}/")
    client.get("/no/such/page/")
    client.logout()
    names = {dict(k[1:]).get("view") for k in _scrape(client, **token) if k[0] == "crm_http_request_duration_seconds_count"}
    assert {"home", "desk:detail", "<unresolved>"} <= names
    assert not any(str(case.pk) in name or "/" in name for name in names if name)  # route names, never paths


# --- the gauges ----------------------------------------------------------------------------

def _followup(case, *, status, kind="automatic", due_at, step):
    from contacts.models import FollowUp

    return FollowUp.objects.create(case=case, objective="remind", step=step, channel="sms", kind=kind, due_at=due_at, anchor_at=due_at,
                                   status=status, reason="test", created_at=due_at)


def _message(case, *, status, n):
    from contacts.models import MessageTemplate, MessageTemplateVersion, OutboundMessage

    # Its own template: the seeded ones are gone after a transactional test flushed the tables.
    template, _ = MessageTemplate.objects.get_or_create(name="metrics", objective="remind", channel="sms", language="es")
    version, _ = MessageTemplateVersion.objects.get_or_create(template=template, number=1, defaults={"body": "Hola", "created_at": NOW})
    return OutboundMessage.objects.create(case=case, channel="sms", objective="remind", recipient="+34612345678", language="es",
                                          template_version=version,
                                          body="Hola", status=status, idempotency_key=f"metrics-{case.pk}-{n}", not_before=NOW,
                                          created_at=NOW)


def test_gauges_count_the_rows_at_scrape_time(client, token, time_machine):
    from collections_crm.core.models import Heartbeat
    from collections_crm.imports.models import ImportJob

    time_machine.move_to(NOW, tick=False)
    case, other = CaseFactory(), CaseFactory()
    _followup(case, status="pending", due_at=NOW - dt.timedelta(minutes=10), step=1)  # due: the oldest
    _followup(other, status="pending", due_at=NOW - dt.timedelta(minutes=2), step=1)  # due
    _followup(case, status="pending", due_at=NOW + dt.timedelta(hours=1), step=2)  # not yet due
    _followup(case, status="pending", kind="agent_task", due_at=NOW - dt.timedelta(hours=1), step=3)  # an agent's, not the sweeper's
    _followup(case, status="running", due_at=NOW - dt.timedelta(minutes=5), step=4)  # claimed
    _followup(case, status="done", due_at=NOW - dt.timedelta(days=1), step=5)
    for n, status in enumerate(["queued", "queued", "sent", "failed"]):
        _message(case, status=status, n=n)
    user = UserFactory()
    for status, rows, seconds in [("done", 1000, 40), ("done", 3000, 10), ("failed", 5, 1)]:
        ImportJob.objects.create(creditor=case.creditor, kind="portfolio", original_name="f.csv", size=1, sha256="0" * 64, file_format="csv",
                                 status=status, rows_total=rows, created_by=user, created_at=NOW - dt.timedelta(hours=1),
                                 started_at=NOW - dt.timedelta(minutes=30), finished_at=NOW - dt.timedelta(minutes=30, seconds=-seconds))
    Heartbeat.objects.update_or_create(name="worker", defaults={"at": NOW - dt.timedelta(seconds=90)})

    metrics = _scrape(client, **token)
    assert metrics[("crm_metrics_database_up",)] == 1
    assert metrics[("crm_followups_due",)] == 2
    assert metrics[("crm_followups_due_lag_seconds",)] == 600
    assert {k[1][1]: v for k, v in metrics.items() if k[0] == "crm_followups"} == {
        "pending": 4, "running": 1, "done": 1, "skipped": 0, "cancelled": 0}
    assert {k[1][1]: v for k, v in metrics.items() if k[0] == "crm_outbound_messages"} == {
        "queued": 2, "sending": 0, "sent": 1, "failed": 1, "cancelled": 0}
    imports = {k[1][1]: v for k, v in metrics.items() if k[0] == "crm_import_jobs"}
    assert imports["done"] == 2 and imports["failed"] == 1 and imports["running"] == 0
    assert metrics[("crm_import_last_rows_per_second",)] == 1000 / 40  # the one that finished last
    assert metrics[("crm_heartbeat_age_seconds", ("name", "worker"))] == 90
    assert not any(k[0] == "crm_broker_up" for k in metrics)  # the filesystem broker: nothing to measure


def test_a_scrape_reads_the_database_in_a_fixed_number_of_queries(django_assert_max_num_queries):
    from collections_crm.observability.metrics import SystemCollector

    for _ in range(3):
        CaseFactory()
    # savepoint, statement timeout, due backlog, imports by status, last import, follow-ups and
    # messages by status (2 each on PostgreSQL: statistics probe, then the exact count of a
    # small table), heartbeats, timeout restored, release: 12 whatever the number of rows.
    with django_assert_max_num_queries(12):
        list(SystemCollector().collect_database(now=NOW))


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics are PostgreSQL's")
def test_large_tables_are_counted_from_the_planner_statistics(settings):
    from collections_crm.observability.metrics import _counts_by_status
    from contacts.models import FollowUp

    case = CaseFactory()
    for step in range(1, 4):
        _followup(case, status="done", due_at=NOW, step=step)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_followup")
    settings.METRICS_EXACT_COUNT_MAX_ROWS = 1
    estimate = _counts_by_status(FollowUp, ["pending", "done"])
    assert estimate == {"pending": 0, "done": 3}


def test_an_unreachable_broker_reports_down_without_failing(client, token, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    metrics = _scrape(client, **token)
    assert metrics[("crm_broker_up",)] == 0
    assert not any(k[0] == "crm_celery_queue_length" for k in metrics)
    assert metrics[("crm_metrics_database_up",)] == 1


@requires_redis
def test_the_celery_queue_depth_is_the_length_of_its_redis_lists(client, token, settings):
    import redis

    queue = f"crm-metrics-test-{uuid.uuid4().hex[:8]}"
    settings.CELERY_BROKER_URL = TEST_REDIS_URL
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    server = redis.Redis.from_url(TEST_REDIS_URL)
    try:
        server.rpush(queue, "a", "b", "c")
        server.rpush(queue + "\x06\x163", "d")  # kombu's list for priority 3
        metrics = _scrape(client, **token)
    finally:
        server.delete(queue, queue + "\x06\x163")
    assert metrics[("crm_broker_up",)] == 1
    assert metrics[("crm_celery_queue_length", ("queue", queue))] == 4


def test_several_gunicorn_workers_are_added_up_in_multiprocess_mode(tmp_path, monkeypatch):
    """Two processes observe a request each into PROMETHEUS_MULTIPROC_DIR; a scrape sees both."""
    from prometheus_client import generate_latest

    from collections_crm.observability import metrics

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "collections_crm.settings"}
    code = "from collections_crm.observability.metrics import REQUEST_LATENCY as h; h.labels('home', 'GET', '2xx').observe(0.2)"
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    samples = _samples(generate_latest(metrics.scrape_registry()).decode())
    assert samples[("crm_http_request_duration_seconds_count", ("method", "GET"), ("status", "2xx"), ("view", "home"))] == 2

