"""A real Redis process (cache and broker) is stopped in the middle of the test: pages, API and
dashboards keep answering, the health check tells, work that needed the broker is kept in the
database and sent once Redis is back."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from django.core.cache import caches
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from collections_crm.api.services import api_token_create
from collections_crm.core.enqueue import deferred_tasks_relay, enqueue_on_commit
from collections_crm.core.models import DeferredTask, Heartbeat
from collections_crm.core.tasks import heartbeat
from tests.factories import CaseFactory, CreditorFactory

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    """A private redis-server on its own port, which the test may stop and start again."""

    def __init__(self):
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def queue_length(self, queue: str) -> int:
        import redis

        return redis.Redis.from_url(self.url).llen(queue)


@contextmanager
def _broker(url: str):
    from collections_crm.celery import app

    saved = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager,
             "broker_transport_options": app.conf.broker_transport_options}
    app.conf.update(broker_url=url, task_always_eager=False,
                    broker_transport_options={"visibility_timeout": 3600, "socket_connect_timeout": 1})
    app._pool = app.amqp._producer_pool = None
    try:
        yield app
    finally:
        app.conf.update(saved)
        app._pool = app.amqp._producer_pool = None


@pytest.fixture
def redis_server(settings):
    server = RedisProcess()
    server.start()
    settings.CACHES = {"default": {"BACKEND": "collections_crm.core.cache.FailSoftRedisCache", "LOCATION": server.url,
                                   "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}}}
    with _broker(server.url):
        yield server
    server.stop()


@pytest.fixture
def everyone(agent, supervisor, admin_user):
    creditor = CreditorFactory(code="acreedor-a")
    CaseFactory(assigned_agent=agent, creditor=creditor)
    _, raw = api_token_create(actor=admin_user, name="erp", creditor=creditor, user=admin_user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return api


def _health(path: str):
    """GET a health URL from another thread: the health views are async, and after the browser
    tests Playwright's event loop runs in this one (async_to_sync refuses a thread with a loop)."""
    def get():
        try:
            return Client().get(path)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(get).result()


def _answers(client, api, agent, supervisor) -> dict[str, int]:
    """Status of the login page, the agent's home and queue, the supervisor's dashboard and an
    API list, each from a fresh login."""
    client.logout()
    codes = {"login": client.get("/accounts/login/").status_code}
    client.force_login(agent)
    codes["home"] = client.get("/").status_code
    codes["queue"] = client.get("/cases/").status_code
    client.force_login(supervisor)
    codes["dashboard"] = client.get("/portfolio/").status_code
    codes["api"] = api.get("/api/v1/cases/").status_code
    return codes


@pytest.mark.django_db(transaction=True)
def test_pages_api_and_dashboard_answer_while_redis_is_down(redis_server, client, everyone, agent, supervisor):
    ok = {"login": 200, "home": 200, "queue": 200, "dashboard": 200, "api": 200}
    assert _answers(client, everyone, agent, supervisor) == ok
    assert caches["default"].get(f"case-summary:{agent.pk}:{timezone.localdate()}") is not None  # Redis really cached

    redis_server.stop()
    started = time.monotonic()
    assert _answers(client, everyone, agent, supervisor) == ok
    # Every request of the outage together, not a connect timeout per cache call.
    assert time.monotonic() - started < 15


@pytest.mark.django_db(transaction=True)
def test_health_tells_the_outage_while_the_app_stays_ready(redis_server, client):
    now = timezone.now()
    for name in ("worker", "beat"):
        Heartbeat.objects.create(name=name, at=now)
    assert _health("/healthz/status").status_code == 200

    redis_server.stop()
    status = _health("/healthz/status")
    assert status.status_code == 500
    report = status.json()
    assert report["Cache(alias='default')"] != "OK"
    assert report["Broker()"] != "OK"
    assert report["Database(alias='default')"] == "OK"
    assert _health("/healthz/ready").status_code == 200  # pages still work: keep serving
    assert _health("/healthz/live").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_task_enqueued_during_the_outage_is_sent_when_the_broker_is_back(redis_server, settings):
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    redis_server.stop()
    with transaction.atomic():
        enqueue_on_commit(heartbeat)
    kept = list(DeferredTask.objects.values_list("task_name", "args"))
    assert kept == [("core.heartbeat", [])]
    assert deferred_tasks_relay() == 0  # still down: kept, one more attempt counted
    assert DeferredTask.objects.get().attempts == 1

    redis_server.start()
    assert deferred_tasks_relay() == 1
    assert not DeferredTask.objects.exists()
    assert redis_server.queue_length(queue) == 1
    assert deferred_tasks_relay() == 0  # sent once


@pytest.mark.django_db(transaction=True)
def test_an_old_heartbeat_fails_the_status(client, settings):
    settings.HEALTH_HEARTBEAT_MAX_AGE = 300
    Heartbeat.objects.create(name="worker", at=timezone.now() - dt.timedelta(minutes=6))
    Heartbeat.objects.create(name="beat", at=timezone.now())
    report = _health("/healthz/status").json()
    assert report["Heartbeat(name='worker')"].startswith("Unavailable: last worker heartbeat")
    assert report["Heartbeat(name='beat')"] == "OK"
