"""Personal data never reaches the logs (collections_crm.core.logging: redaction, the JSON
formatter, the log format chosen from the environment)."""

from __future__ import annotations

import logging

import pytest


def test_pii_is_redacted_from_logs(caplog):
    from collections_crm.core.logging import RedactPIIFilter

    logger = logging.getLogger("crm.test")
    logger.addFilter(RedactPIIFilter())
    with caplog.at_level(logging.INFO, logger="crm.test"):
        logger.info("Calling %s at %s (DNI %s)", "ana@example.com", "+34 612 345 678", "12345678Z")
    text = caplog.records[0].getMessage()
    assert "ana@example.com" not in text and "612 345 678" not in text and "12345678Z" not in text
    assert "[email]" in text and "[phone]" in text and "[document]" in text


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


def test_log_format_follows_debug_unless_set():
    from collections_crm.core.logging import log_format_from_env

    assert log_format_from_env({}) == "plain"
    assert log_format_from_env({"DJANGO_DEBUG": "false"}) == "json"
    assert log_format_from_env({"DJANGO_DEBUG": "false", "LOG_FORMAT": "plain"}) == "plain"
    assert log_format_from_env({"LOG_FORMAT": "JSON"}) == "json"


def test_the_request_django_logs_with_a_404_keeps_its_query_string_out(rf):
    import json

    from collections_crm.core.logging import JsonFormatter

    request = rf.get("/cases/99/", {"q": "612345678", "email": "ana@example.com"})
    text = _emit_through(JsonFormatter(), lambda log: log.warning("Not Found: %s", request.path, extra={"request": request, "status_code": 404}))
    line = json.loads(text)
    assert line["request"] == "GET /cases/99/" and line["status_code"] == 404
    assert "612345678" not in text and "ana@example.com" not in text
