"""Two middlewares, placed apart in MIDDLEWARE:

- ``MetricsMiddleware`` (first): times every request into the latency histogram, labelled by the
  route's name — never the path, which holds ids (and would make one series per case).
- ``RequestContextMiddleware`` (after SecurityMiddleware): gives each request an id (the
  caller's ``X-Request-ID`` when it is a sane token), returned in the response header, and sets
  the log context: request id at once; user and case once the URL is resolved and the user is
  known (``process_view``). The case is read from the URL kwargs ``case_id`` (or ``pk`` on the
  cases views), so no view needs code for it. Optionally logs one line per request
  (``LOG_REQUESTS``): method, route name, status and duration — no path, no query string.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings

from . import context
from .metrics import REQUEST_LATENCY

log = logging.getLogger("collections_crm.request")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.view_name
    if request.path_info.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "<static>"  # answered by WhiteNoise before URL resolution
    return "<unresolved>"


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in _METHODS else "other"
        REQUEST_LATENCY.labels(_view_label(request), method, f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
        return response


def _case_id_from(match) -> int | None:
    if match is None:
        return None
    kwargs = match.kwargs
    value = kwargs.get("case_id")
    if value is None and "cases" in match.namespaces:
        value = kwargs.get("pk")
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        rid = context.request_id_from_header(request.headers.get("X-Request-ID"))
        request.request_id = rid
        tokens = [
            (context.request_id_var, context.request_id_var.set(rid)),
            (context.user_id_var, context.user_id_var.set(None)),
            (context.case_id_var, context.case_id_var.set(None)),
        ]
        _sentry_tag(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = rid
            if getattr(settings, "LOG_REQUESTS", False):
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                view = _view_label(request)
                log.info(
                    "%s %s %s %.0fms", request.method, view, response.status_code, duration_ms,
                    extra={"http_method": request.method, "view": view, "status_code": response.status_code, "duration_ms": duration_ms},
                )
            return response
        finally:
            for var, token in reversed(tokens):
                var.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            context.user_id_var.set(user.pk)
        context.case_id_var.set(_case_id_from(request.resolver_match))
        return None


def _sentry_tag(rid: str) -> None:
    """The request id on the Sentry event too, to find its log lines (a no-op without Sentry)."""
    if getattr(settings, "SENTRY_DSN", ""):
        import sentry_sdk

        sentry_sdk.set_tag("request_id", rid)
