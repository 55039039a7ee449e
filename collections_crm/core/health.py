"""Health checks (django-health-check): what the app needs, and whether its parts are alive.

Three URLs, for three questions:
- ``/healthz/live``: the process answers (no dependency; a failing liveness probe restarts it).
- ``/healthz/ready``: this web process can serve: the database answers and every migration is
  applied. A cache or broker outage does not make it unready: pages keep answering without them.
- ``/healthz/status``: everything, for operators and monitoring: database, cache, broker, the
  worker's and beat's last heartbeat, free disk, migrations. 500 when any part is down.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

_migrated = False  # once every migration is applied it stays so for this process's code


@dataclasses.dataclass
class Migrations(HealthCheck):
    """No migration of the running code is left unapplied."""

    def run(self):
        global _migrated
        if _migrated:
            return
        try:
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        finally:
            connection.close()  # this runs in a worker thread of the health view
        if pending:
            raise ServiceUnavailable(f"{len(pending)} migrations not applied")
        _migrated = True


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection (Redis in production, a folder in the embedded mode)."""

    timeout: dt.timedelta = dataclasses.field(default=dt.timedelta(seconds=2), repr=False)

    def run(self):
        from celery import current_app

        try:
            with current_app.connection_for_write() as conn:
                conn.ensure_connection(max_retries=1, timeout=self.timeout.total_seconds())
        except Exception as error:  # kombu wraps transport errors in many classes
            raise ServiceUnavailable(f"broker unreachable ({type(error).__name__})") from error


@dataclasses.dataclass
class Heartbeat(HealthCheck):
    """A background component wrote its heartbeat row recently (``worker``: the heartbeat task
    ran, so beat, broker and a worker all work; ``beat``: the scheduler itself ticks)."""

    name: str = "worker"
    max_age: dt.timedelta = dataclasses.field(default=dt.timedelta(minutes=3), repr=False)

    def run(self):
        from .models import Heartbeat as Row

        try:
            at = Row.objects.filter(name=self.name).values_list("at", flat=True).first()
        finally:
            connection.close()
        if at is None:
            raise ServiceUnavailable(f"no {self.name} heartbeat yet")
        age = timezone.now() - at
        if age > self.max_age:
            raise ServiceUnavailable(f"last {self.name} heartbeat {int(age.total_seconds())} s ago")


@dataclasses.dataclass
class Disk(HealthCheck):
    """Free space where the app writes (SQLite, uploads, letters, broker folder)."""

    min_free_mb: int = dataclasses.field(default=500, repr=False)

    def run(self):
        free_mb = shutil.disk_usage(settings.VAR_DIR).free // (1024 * 1024)
        if free_mb < self.min_free_mb:
            raise ServiceUnavailable(f"{free_mb} MB free (minimum {self.min_free_mb})")


def readiness_checks() -> list:
    return ["health_check.checks.Database", Migrations]


def beat_checks() -> list:
    """For beat's container probe (``manage.py health_check healthz_beat --no-http``)."""
    return [(Heartbeat, {"name": "beat", "max_age": dt.timedelta(seconds=settings.HEALTH_HEARTBEAT_MAX_AGE)})]


def status_checks() -> list:
    return [
        "health_check.checks.Database",
        "health_check.checks.Cache",
        Broker,
        (Heartbeat, {"name": "worker", "max_age": dt.timedelta(seconds=settings.HEALTH_HEARTBEAT_MAX_AGE)}),
        *beat_checks(),
        (Disk, {"min_free_mb": settings.HEALTH_DISK_MIN_FREE_MB}),
        Migrations,
    ]
