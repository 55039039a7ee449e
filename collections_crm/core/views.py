from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from health_check.views import HealthCheckView

from . import health


@login_not_required
def healthz_live(request):
    """Liveness: the process answers. No dependency, so an outage elsewhere never restarts it
    (readiness and status are in collections_crm.core.health)."""
    return JsonResponse({"status": "ok"})


class _Health(HealthCheckView):
    checks: Any  # set by as_view(checks=...): a list or a function returning one

    def get_checks(self):
        # ``checks`` is a function of collections_crm.core.health, so settings are read per request.
        checks = self.checks
        self.checks = checks() if callable(checks) else checks
        try:
            yield from super().get_checks()
        finally:
            self.checks = checks

    async def get(self, request, *args, **kwargs):
        # JSON unless a browser asks for HTML: probes and monitors read it.
        if "format" not in request.GET and "text/html" not in request.headers.get("accept", ""):
            request.GET = request.GET.copy()
            request.GET["format"] = "json"
        return await super().get(request, *args, **kwargs)


healthz_ready = login_not_required(_Health.as_view(checks=health.readiness_checks))
healthz_beat = login_not_required(_Health.as_view(checks=health.beat_checks))
healthz_status = login_not_required(_Health.as_view(checks=health.status_checks))
