"""Seeing inside the running system, without personal data.

- ``context``: the request or Celery task a log record belongs to (contextvars, a logging filter,
  the Celery signals that set it).
- ``middleware``: request ids and the request context; the HTTP latency histogram.
- ``metrics``: the Prometheus metrics and the collector that reads the database and the broker at
  scrape time; ``views``: the protected ``/metrics`` endpoint.
- ``sentry``: error tracking (off without ``SENTRY_DSN``) and the scrubbing of its events.
- ``gunicorn_logging``: gunicorn's access log without query-string values.

The redaction itself lives in ``collections_crm.core.logging``.
"""
