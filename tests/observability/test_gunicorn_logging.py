"""gunicorn's access log (collections_crm.observability.gunicorn_logging) never writes query values."""

from __future__ import annotations

import logging


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
