"""``/metrics`` for Prometheus. Not public: a scraper sends ``Authorization: Bearer
<METRICS_TOKEN>``; a logged-in admin may read it in the browser. Anyone else gets 404, as for
any object they may not see."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .metrics import scrape_registry


def _may_read_metrics(request) -> bool:
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header[:7].lower() == "bearer ":
        # A wrong token is refused outright, whoever is logged in.
        return hmac.compare_digest(header[7:].strip().encode(), token.encode())
    user = request.user
    return user.is_authenticated and user.is_crm_admin


@login_not_required  # the token is its own authentication; the check below is the access rule
@never_cache
@require_GET
def metrics(request):
    if not _may_read_metrics(request):
        raise Http404
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
