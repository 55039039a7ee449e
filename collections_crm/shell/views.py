from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import timezone
from django.views.decorators.http import require_safe

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


@login_not_required
@require_safe
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says: send them to the static icon (its
    hashed name in production, so a temporary redirect, cached for a day)."""
    response = redirect(static("favicon.ico"))
    response["Cache-Control"] = "public, max-age=86400"
    return response
