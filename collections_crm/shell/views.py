from __future__ import annotations

from django.shortcuts import render
from django.utils import timezone

from cases.selectors import case_summary_for_user, cases_due_for_user
from collections_crm.accounts.access import ALL_ROLES, role_required
from collections_crm.accounts.selectors import team_list_supervised_by, user_counts_by_role
from collections_crm.core.selectors import heartbeat_get


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
        context["teams"] = team_list_supervised_by(user=user)
    if user.is_crm_admin:
        context["user_counts"] = user_counts_by_role()
        context["heartbeat"] = heartbeat_get(name="worker")
    return render(request, "shell/home.html", context)
