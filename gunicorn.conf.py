"""gunicorn in production: ``gunicorn -c gunicorn.conf.py collections_crm.wsgi:application``.

Every value can be changed from the environment (names below). The access log never writes a
query-string value (collections_crm.observability.gunicorn_logging); with LOG_FORMAT=json, or
DJANGO_DEBUG=false, gunicorn's own lines are JSON like the app's.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # gunicorn started from elsewhere

from collections_crm.core.logging import log_format_from_env  # noqa: E402


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# WEB_CONCURRENCY is also what gunicorn reads by default (and what most platforms set).
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8))
# More than one thread switches the worker class to gthread.
threads = _int("GUNICORN_THREADS", 1)
timeout = _int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
# Recycling workers after N requests (against a slow leak) is off by default: every recycled
# worker leaves its metrics file behind in PROMETHEUS_MULTIPROC_DIR (counts must survive it), and
# each scrape reads them all. When turned on, keep N high; the jitter staggers the restarts.
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)
# Only the reverse proxy may set X-Forwarded-For/-Proto; list its addresses (or "*" when
# nothing but the proxy can reach this port, as inside docker-compose's network).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Heartbeat files on tmpfs: a container's overlay filesystem can stall them into false timeouts.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

loglevel = os.environ.get("LOG_LEVEL", "info").lower()
errorlog = "-"
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None  # empty: no access log
logger_class = "collections_crm.observability.gunicorn_logging.RedactingLogger"
# %(r)s and %(q)s carry masked query strings; the request id ties a line to the app's logs.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms rid=%({x-request-id}o)s'

if log_format_from_env(os.environ) == "json":
    access_log_format = "%(m)s %(U)s %(s)s"  # the fields themselves are JSON keys
    logconfig_dict = {
        "formatters": {"json": {"()": "collections_crm.core.logging.JsonFormatter"}},
        "filters": {"redact_pii": {"()": "collections_crm.core.logging.RedactPIIFilter"}},
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact_pii"], "stream": "ext://sys.stdout"},
        },
        "root": {"level": loglevel.upper(), "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["json"] if accesslog else [], "propagate": False},
        },
    }

# Prometheus: each worker writes its metrics to files in this directory and a scrape adds them
# up (prometheus_client's multiprocess mode). Set before any worker imports prometheus_client.
_own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _own_metrics_dir:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="crm-prometheus-")


def on_starting(server):
    # A directory given from outside may hold files of a previous run: start from zero.
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
