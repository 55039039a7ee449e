"""Prometheus metrics: the HTTP latency histogram (observed by ``MetricsMiddleware``) and the
gauges that ``SystemCollector`` reads from the database and the broker when /metrics is scraped.

Nothing is counted ahead of time: the database is the source of truth (the follow-up schedule,
the outbox, the import jobs, the heartbeats), so a scrape reads it — a handful of cheap queries,
under a statement timeout on PostgreSQL. Counts per status are exact while a table is small and
the planner's estimate (``pg_stats``) once it passes ``METRICS_EXACT_COUNT_MAX_ROWS``, so a scrape
never scans a history of millions of rows.

Several gunicorn workers: with ``PROMETHEUS_MULTIPROC_DIR`` set (gunicorn.conf.py sets it), each
worker writes its histogram to files there and a scrape adds them up (prometheus_client's
multiprocess mode); without it the histogram is the serving process's alone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

log = logging.getLogger(__name__)

REQUEST_LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "Time to answer an HTTP request, by route name (never the raw path), method and status class.",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

# Kombu's Redis transport keeps one list per priority step: "<queue>", "<queue>\x06\x163", …
_KOMBU_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def _gauge(name: str, documentation: str, value: float | None = None, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value, labels=labels)


class SystemCollector:
    """The gauges read at scrape time. ``describe`` is empty so that registering the collector
    reads nothing (prometheus_client would otherwise call ``collect`` to learn its names)."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self.collect_database(now=timezone.now())
        yield from self.collect_broker()

    # --- database --------------------------------------------------------------------------

    def collect_database(self, *, now: dt.datetime) -> Iterator[Metric]:
        try:
            with transaction.atomic(), _statement_timeout(settings.METRICS_DB_TIMEOUT_MS):
                snapshot = database_snapshot(now=now)
        except DatabaseError as exc:
            # One line, no traceback: this repeats at every scrape while the database is away.
            log.warning("metrics: database unavailable or too slow (%s)", type(exc).__name__)
            yield _gauge("crm_metrics_database_up", "1 when the database answered the metrics queries.", 0)
            return
        yield _gauge("crm_metrics_database_up", "1 when the database answered the metrics queries.", 1)
        yield _gauge(
            "crm_followups_due", "Automatic follow-ups due now and not yet claimed by the sweeper (its backlog).",
            snapshot["due_count"],
        )
        yield _gauge(
            "crm_followups_due_lag_seconds", "Age of the oldest automatic follow-up due and not claimed (0 when none).",
            snapshot["due_lag_seconds"],
        )
        for name, doc, key in (
            ("crm_followups", "Follow-ups by status (planner estimate on a large table).", "followups"),
            ("crm_outbound_messages", "Outbound messages by status (planner estimate on a large table).", "messages"),
            ("crm_import_jobs", "Import jobs by status.", "imports"),
        ):
            family = _gauge(name, doc, labels=["status"])
            for status, count in sorted(snapshot[key].items()):
                family.add_metric([status], count)
            yield family
        if snapshot["import_rows_per_second"] is not None:
            yield _gauge(
                "crm_import_last_rows_per_second", "Rows per second of the import that finished last.",
                snapshot["import_rows_per_second"],
            )
        family = _gauge("crm_heartbeat_age_seconds", "Seconds since a background component last beat (worker: beat enqueued, a worker ran it).", labels=["name"])
        for name, age in sorted(snapshot["heartbeat_ages"].items()):
            family.add_metric([name], age)
        yield family

    # --- broker ----------------------------------------------------------------------------

    def collect_broker(self) -> Iterator[Metric]:
        url = settings.CELERY_BROKER_URL.split(";")[0].strip()
        if not url.startswith(("redis://", "rediss://")):
            return  # the filesystem broker (embedded mode) has no queue to measure cheaply
        import redis

        queue = settings.CELERY_TASK_DEFAULT_QUEUE
        try:
            pipe = _redis_client(url).pipeline(transaction=False)
            for suffix in _KOMBU_PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
            depth = sum(pipe.execute())
        except (redis.RedisError, OSError):
            yield _gauge("crm_broker_up", "1 when the Celery broker (Redis) answered.", 0)
            return
        yield _gauge("crm_broker_up", "1 when the Celery broker (Redis) answered.", 1)
        family = _gauge("crm_celery_queue_length", "Tasks waiting in the Celery queue (not yet taken by a worker).", labels=["queue"])
        family.add_metric([queue], depth)
        yield family


@cache
def _redis_client(url: str):
    import redis

    # Short timeouts: a scrape must answer (with crm_broker_up 0) even when Redis is unreachable.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry_on_timeout=False)


def database_snapshot(*, now: dt.datetime) -> dict:
    """What the gauges show, read in one go: 6 to 8 queries whatever the size of the data."""
    from collections_crm.core.models import Heartbeat
    from collections_crm.imports.models import ImportJob, ImportStatus
    from contacts.models import FollowUp, FollowUpStatus, MessageStatus, OutboundMessage, StepKind

    # Served by the sweeper's partial index followup_due_auto_idx (pending, automatic, due_at).
    due = FollowUp.objects.filter(status=FollowUpStatus.PENDING, kind=StepKind.AUTOMATIC, due_at__lte=now).aggregate(
        n=Count("id"), oldest=Min("due_at")
    )
    imports = dict.fromkeys(ImportStatus.values, 0)
    imports.update(ImportJob.objects.order_by().values_list("status").annotate(n=Count("id")))
    last = (
        ImportJob.objects.filter(status=ImportStatus.DONE, started_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at").values("rows_total", "started_at", "finished_at").first()
    )
    rows_per_second = None
    if last:
        seconds = (last["finished_at"] - last["started_at"]).total_seconds()
        rows_per_second = last["rows_total"] / seconds if seconds > 0 else 0.0
    return {
        "due_count": due["n"],
        "due_lag_seconds": max((now - due["oldest"]).total_seconds(), 0.0) if due["oldest"] else 0.0,
        "followups": _counts_by_status(FollowUp, FollowUpStatus.values),
        "messages": _counts_by_status(OutboundMessage, MessageStatus.values),
        "imports": imports,
        "import_rows_per_second": rows_per_second,
        "heartbeat_ages": {name: max((now - at).total_seconds(), 0.0) for name, at in Heartbeat.objects.values_list("name", "at")},
    }


def _counts_by_status(model, statuses: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(statuses, 0)
    estimate = _estimated_counts(model._meta.db_table, "status") if connection.vendor == "postgresql" else None
    if estimate is not None:
        counts.update({k: v for k, v in estimate.items() if k in counts})
    else:
        counts.update(model.objects.order_by().values_list("status").annotate(n=Count("id")))
    return counts


def _estimated_counts(table: str, column: str) -> dict[str, int] | None:
    """The planner's row counts per value (reltuples × most-common-value frequency), or None
    while the table is below METRICS_EXACT_COUNT_MAX_ROWS or was never analysed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.reltuples, s.most_common_vals::text::text[], s.most_common_freqs
            FROM pg_class c
            LEFT JOIN pg_stats s ON s.schemaname = c.relnamespace::regnamespace::text AND s.tablename = c.relname
                 AND s.attname = %s
            WHERE c.oid = to_regclass(%s)
            """,
            [column, table],
        )
        row = cursor.fetchone()
    if not row or row[0] is None or row[0] < settings.METRICS_EXACT_COUNT_MAX_ROWS or not row[1]:
        return None
    reltuples, values, freqs = row
    return {value: round(reltuples * freq) for value, freq in zip(values, freqs, strict=False)}


@contextmanager
def _statement_timeout(milliseconds: int):
    """Inside a transaction: every query after this one is cancelled past the timeout; the
    previous value is put back (the transaction may be a test's, or a view's)."""
    if connection.vendor != "postgresql" or not milliseconds:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('statement_timeout'), set_config('statement_timeout', %s, true)", [f"{milliseconds}ms"])
        previous = cursor.fetchone()[0]
    yield
    # Not reached when a query failed: the rollback of the transaction undoes set_config then.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])


# --- exposition ----------------------------------------------------------------------------


class _Forward:
    """Exposes another registry's metrics (the default one: the latency histogram and the
    process, platform and GC metrics) inside the scrape registry."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self.registry.collect()


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def scrape_registry() -> CollectorRegistry:
    """A fresh registry per scrape (prometheus_client's advice for multiprocess mode)."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(SystemCollector())
    return registry
