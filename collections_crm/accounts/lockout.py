"""Login lockouts (django-axes) and the client address they, and the password-reset limits,
count by.

Two limits, both over the cool-off period (AXES_COOLOFF_TIME):
- a username from one address is locked after AXES_FAILURE_LIMIT failures (axes' own rule, with
  AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]). Locking the username alone would let
  anyone lock any account with five wrong passwords; this way its owner still logs in from their
  own address while the guesser's address is refused;
- an address is locked for every username after AXES_IP_FAILURE_LIMIT failures, whatever the
  usernames: one address spraying one password over many accounts. The limit is higher because a
  whole office may reach us through one NAT address.
"""

from __future__ import annotations

import ipaddress

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_failure_limit
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. REMOTE_ADDR unless TRUSTED_PROXY_COUNT proxies that append to
    X-Forwarded-For stand in front of the app: then the address the outermost of them saw, the
    N-th entry from the right. Entries further left were written by the client and can be forged,
    so they are never used. A header shorter than expected (a request that bypassed a proxy) or a
    malformed entry falls back to REMOTE_ADDR."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


class AxesHandler(AxesDatabaseHandler):
    """Axes' database handler plus the per-address limit (see the module docstring)."""

    def address_failures(self, request: HttpRequest) -> int:
        """Failures from the request's address within the cool-off, over all usernames."""
        ip_address = request.axes_ip_address  # type: ignore[attr-defined]  # set on the request by axes
        if ip_address is None:
            return 0
        rows = AccessAttempt.objects.filter(
            ip_address=ip_address, attempt_time__gte=get_cool_off_threshold(request)
        )
        return rows.aggregate(n=Sum("failures_since_start"))["n"] or 0

    def get_failures(self, request, credentials: dict | None = None) -> int:
        """What axes compares with AXES_FAILURE_LIMIT, both before a login (is it locked?) and
        after a failure (lock it now?): the username's failures from this address, raised to the
        limit once the address as a whole has passed AXES_IP_FAILURE_LIMIT."""
        failures = super().get_failures(request, credentials)
        if self.address_failures(request) >= settings.AXES_IP_FAILURE_LIMIT:
            return max(failures, get_failure_limit(request, credentials))
        return failures
