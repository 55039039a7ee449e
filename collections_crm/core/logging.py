"""Keep personal data out of logs: e-mail addresses, phone numbers, identity documents (DNI, NIE,
CIF) and IBANs are masked in every record before it is written — its message, the string values
it carries as extra fields, its traceback and its stack. Query strings are masked whole
(``mask_query_string``): a search for a debtor's name has no pattern to find.

Also the JSON formatter of production logs, and the rule that picks it, shared by the settings
and gunicorn's configuration. Standard library only (and python-json-logger): the settings and
gunicorn import this before Django is set up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import cast
from urllib.parse import urlsplit, urlunsplit

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

REDACTED = "[redacted]"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# DNI (8 digits, or 7 when a spreadsheet dropped the leading zero) and NIE (X/Y/Z + 7 digits),
# then the check letter; an optional hyphen or space before it, as people type them.
_PERSON_DOCUMENT = re.compile(r"\b(?:[XYZ][- ]?\d{7}|\d{7,8})[- ]?[A-Z]\b", re.IGNORECASE)
# CIF: organisation letter, 7 digits, control digit or letter.
_COMPANY_DOCUMENT = re.compile(r"\b[ABCDEFGHJNPQRSUVW][- ]?\d{7}[0-9A-J]\b", re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b")
# A phone candidate: an optional + and area code in parentheses, then digits in groups separated
# by a space, a hyphen or parentheses. Not inside a word, a decimal number, a time, a path or a version string (the
# look-arounds), so "2026-12-02 06:23:14", "12:30", "1.234.567,89" or a UUID never start one.
_PHONE_CANDIDATE = re.compile(r"(?<![\w.,:/+%-])(?:\+|%2[Bb])?(?:\(\d{1,5}\)[ -]?)?\d(?:[ ()-]{0,2}\d)+(?![\w:/-]|[.,]\d)")
_DATE_START = re.compile(r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{4})(?:$|[ T])")
_DIGITS = re.compile(r"\D")


def _phone_or_not(match: re.Match) -> str:
    """E.164 (up to 15 digits) or a national number of 9+ digits is a phone; a date, and a bare
    run of 10 or 13 digits starting with 1 (Unix time in seconds or milliseconds) is not."""
    text = match.group()
    digits = _DIGITS.sub("", text)
    if not 9 <= len(digits) <= 15 or _DATE_START.match(text):
        return text
    if text.isdigit() and len(text) in (10, 13) and text.startswith("1"):
        return text
    return "[phone]"


# A personal link's token (/p/o/<token>/, collections_crm.portal): a credential, kept out of logs.
_PORTAL_TOKEN = re.compile(r"/p/o/[\w-]+")


def redact(text: str) -> str:
    text = _PORTAL_TOKEN.sub("/p/o/[token]", text)
    text = _EMAIL.sub("[email]", text)
    text = _PERSON_DOCUMENT.sub("[document]", text)
    text = _COMPANY_DOCUMENT.sub("[document]", text)
    text = _IBAN.sub("[iban]", text)
    return _PHONE_CANDIDATE.sub(_phone_or_not, text)


def redact_deep(value):
    """``redact`` every string inside dicts, lists and tuples (Sentry events, log extras)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {k: redact_deep(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_deep(v) for v in value]
    return value


def mask_query_string(query: str | None) -> str:
    """Every value replaced by ``[redacted]``, keys kept (and redacted themselves):
    ``q=Ana+P%C3%A9rez&page=2`` → ``q=[redacted]&page=[redacted]``."""
    if not query:
        return query or ""
    parts = []
    for part in query.split("&"):
        key, sep, value = part.partition("=")
        parts.append(f"{redact(key)}={REDACTED}" if sep and value else redact(part))
    return "&".join(parts)


def mask_url(url: str | None) -> str:
    """A URL (a Referer, say) with the values of its query string masked."""
    if not url or "?" not in url:
        return url or ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    return urlunsplit(parts._replace(query=mask_query_string(parts.query)))


# The attributes every LogRecord has; anything else on a record came in through ``extra=``.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactPIIFilter(logging.Filter):
    """Masks PII in place, so every handler and formatter after it sees the masked record.

    The traceback is formatted here into ``exc_text`` (which the standard formatter prints
    instead of formatting ``exc_info`` again); ``exc_info`` itself stays for handlers that need
    the exception object (Sentry scrubs its own events)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key in _RECORD_ATTRS or value is None or isinstance(value, bool | int | float):
                continue
            if isinstance(value, str | Mapping | list | tuple):
                setattr(record, key, redact_deep(value))
            elif hasattr(value, "META") and hasattr(value, "path"):
                # django.request passes the request, whose repr holds the query string.
                setattr(record, key, f"{value.method} {redact(value.path)}")
            else:
                setattr(record, key, redact(str(value)))  # what a JSON formatter would write
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, the request or task context
    (``collections_crm.observability.context``) and any extra fields; empty context left out.
    Tracebacks and stacks are redacted again here, since python-json-logger formats
    ``exc_info`` itself rather than using the filter's ``exc_text``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__(**kwargs)

    # The base returns a list only with exc_info_as_array / stack_info_as_array, which stay off.
    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return redact(cast(str, super().formatException(ei)))

    def formatStack(self, stack_info) -> str:  # noqa: N802
        return redact(cast(str, super().formatStack(stack_info)))

    def process_log_record(self, log_data):
        return {k: v for k, v in log_data.items() if v is not None}


def log_format_from_env(environ: Mapping[str, str]) -> str:
    """``LOG_FORMAT`` if set (``plain`` or ``json``), else JSON when DJANGO_DEBUG is false."""
    explicit = environ.get("LOG_FORMAT", "").strip().lower()
    if explicit:
        if explicit not in ("plain", "json"):
            raise ValueError(f"LOG_FORMAT must be 'plain' or 'json', not {explicit!r}.")
        return explicit
    # The true strings of django-environ, which the settings read DJANGO_DEBUG with.
    debug = environ.get("DJANGO_DEBUG", "true").strip().lower() in ("true", "on", "ok", "y", "yes", "1")
    return "plain" if debug else "json"
