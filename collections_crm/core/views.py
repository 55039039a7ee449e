from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from health_check.views import HealthCheckView

from cases.selectors import case_summary_for_user, cases_due_for_user
from collections_crm.accounts.models import Role, Team, User

from . import health
from .access import ALL_ROLES, role_required
from .models import Heartbeat


@role_required(*ALL_ROLES)
def home(request):
    now = timezone.now()
    user = request.user
    context = {
        "summary": case_summary_for_user(user=user, now=now, today=timezone.localdate(now)),
        "due_cases": cases_due_for_user(user=user, now=now, limit=10),
        "now": now,
    }
    if user.is_supervisor:
        context["teams"] = Team.objects.filter(supervisor=user).prefetch_related("members")
    if user.is_crm_admin:
        context["user_counts"] = {r.label: User.objects.filter(role=r.value, is_active=True).count() for r in Role}
        context["heartbeat"] = Heartbeat.objects.filter(name="worker").first()
    return render(request, "core/home.html", context)


@login_not_required
def healthz_live(request):
    """Liveness: the process answers. No dependency, so an outage elsewhere never restarts it
    (readiness and status are in collections_crm.core.health)."""
    return JsonResponse({"status": "ok"})


class _Health(HealthCheckView):
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
