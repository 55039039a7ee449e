"""Error tracking with Sentry, off unless ``SENTRY_DSN`` is set (the settings call
``sentry_init``). No personal data leaves: ``send_default_pii=False`` (no cookies, user names,
IP addresses), no local variables in stack frames (they hold debtors' names and addresses, which
no pattern can find), and every event, transaction and breadcrumb goes through the same
redaction as the logs. Query strings and form data keep their keys and lose every value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from collections_crm.core.logging import REDACTED, mask_query_string, mask_url, redact, redact_deep

_DROPPED_HEADERS = frozenset({"cookie", "authorization", "x-api-key", "proxy-authorization", "x-forwarded-for", "x-real-ip"})


def sentry_init(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> bool:
    """Start the SDK with the Django and Celery integrations; False (and nothing started)
    without a DSN."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        include_local_variables=False,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=scrub_event,
        before_send_transaction=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
    )
    return True


def scrub_event(event: dict[str, Any], hint: Mapping | None = None) -> dict[str, Any]:
    """Redact an error or transaction event in place and return it."""
    if isinstance(event.get("message"), str):
        event["message"] = redact(event["message"])
    if isinstance(event.get("logentry"), Mapping):
        event["logentry"] = redact_deep(event["logentry"])
    for key in ("exception", "threads"):
        for value in _values(event.get(key)):
            if isinstance(value.get("value"), str):
                value["value"] = redact(value["value"])
            for frame in (value.get("stacktrace") or {}).get("frames") or []:
                frame.pop("vars", None)
    crumbs = event.get("breadcrumbs")
    for crumb in _values(crumbs):
        scrub_breadcrumb(crumb)
    if isinstance(event.get("request"), dict):
        _scrub_request(event["request"])
    for key in ("extra", "tags"):
        if key in event:
            event[key] = redact_deep(event[key])
    if isinstance(event.get("contexts"), Mapping):
        event["contexts"] = {k: (v if k == "trace" else redact_deep(v)) for k, v in event["contexts"].items()}
    if isinstance(event.get("user"), Mapping):
        event["user"] = {k: v for k, v in event["user"].items() if k == "id"}
    if isinstance(event.get("transaction"), str):
        event["transaction"] = redact(event["transaction"])
    for span in event.get("spans") or []:
        if isinstance(span.get("description"), str):
            span["description"] = redact(mask_url(span["description"]) if "?" in span["description"] else span["description"])
        if isinstance(span.get("data"), Mapping):
            span["data"] = _scrub_data(span["data"])
    return event


def scrub_breadcrumb(crumb: dict[str, Any], hint: Mapping | None = None) -> dict[str, Any]:
    if isinstance(crumb.get("message"), str):
        crumb["message"] = redact(crumb["message"])
    if isinstance(crumb.get("data"), Mapping):
        crumb["data"] = _scrub_data(crumb["data"])
    return crumb


def _scrub_data(data: Mapping) -> dict:
    data = dict(data)
    data.pop("db.params", None)  # SQL parameters are the very values we keep out
    if isinstance(data.get("url"), str):
        data["url"] = mask_url(data["url"])
    if isinstance(data.get("http.query"), str):
        data["http.query"] = mask_query_string(data["http.query"])
    return redact_deep(data)


def _scrub_request(request: dict[str, Any]) -> None:
    if isinstance(request.get("url"), str):
        request["url"] = request["url"].split("?", 1)[0]
    query = request.get("query_string")
    if isinstance(query, str):
        request["query_string"] = mask_query_string(query)
    elif query:
        request["query_string"] = _mask_values(query)
    if request.get("data"):
        request["data"] = _mask_values(request["data"])
    request.pop("cookies", None)
    if isinstance(request.get("headers"), Mapping):
        headers = {k: v for k, v in request["headers"].items() if k.lower() not in _DROPPED_HEADERS}
        for name in list(headers):
            if name.lower() == "referer" and isinstance(headers[name], str):
                headers[name] = mask_url(headers[name])
        request["headers"] = redact_deep(headers)
    if isinstance(request.get("env"), Mapping):
        request["env"] = {k: v for k, v in request["env"].items() if k not in ("REMOTE_ADDR", "QUERY_STRING")}


def _mask_values(data: Any) -> Any:
    """Form fields, JSON bodies, parsed query strings: keys kept, every value masked."""
    if isinstance(data, Mapping):
        return {k: _mask_values(v) if isinstance(v, Mapping) else REDACTED for k, v in data.items()}
    if isinstance(data, list | tuple):
        if all(isinstance(item, list | tuple) and len(item) == 2 for item in data):
            return [[key, REDACTED] for key, _value in data]  # a query string as pairs
        return [REDACTED for _ in data]
    if isinstance(data, str) and "=" in data and "&" in data:
        return mask_query_string(data)
    return REDACTED


def _values(container: Any) -> list[dict]:
    if isinstance(container, Mapping):
        container = container.get("values")
    return [v for v in container or [] if isinstance(v, dict)]
