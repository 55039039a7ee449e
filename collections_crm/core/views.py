from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone

from cases.selectors import case_summary_for_user, cases_due_for_user
from collections_crm.accounts.models import Role, Team, User

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
def healthz(request):
    """Liveness and database reachability, for load balancers and docker-compose."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
