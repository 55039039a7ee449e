from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from collections_crm.accounts.access import ALL_ROLES, STAFF_ROLES, role_required
from collections_crm.accounts.models import Role

from . import exports
from .forms import DrillForm, FilterForm, ReassignForm, TeamMemberForm, TeamPriorityForm
from .selectors import (
    drill_case_ids,
    drill_cases,
    drill_cases_for_export,
    priorities_for_teams,
    priorities_for_user,
    rebuild_state,
    scope_for_user,
    team_get_for_user,
    teams_with_members_for_user,
)
from .services import cases_reassign, team_member_set, team_priority_set
from .tables import build_tables, chart_payload, drill_table
from .tasks import rebuild_facts


def _filters(request):
    """(bound filter form, scope, filter GET parameters). Invalid filters are shown as field
    errors while the figures fall back to the defaults."""
    now = timezone.now()
    today = timezone.localdate(now)
    # The default period is filled in, so the date fields show what the figures cover.
    query = request.GET.copy()
    defaults = FilterForm({}, user=request.user, today=today)
    defaults.is_valid()
    for name in ("date_from", "date_to"):
        query.setdefault(name, defaults.cleaned_data[name].isoformat())
    form = FilterForm(query, user=request.user, today=today)
    if form.is_valid():
        data = form.cleaned_data
    else:
        data = defaults.cleaned_data
    scope = scope_for_user(
        user=request.user, today=today, date_from=data["date_from"], date_to=data["date_to"],
        creditor_id=data["creditor"].pk if data.get("creditor") else None, team=data.get("team"), agent=data.get("agent"),
        currency=data.get("currency") or None,
    )
    params = {
        "creditor": data["creditor"].pk if data.get("creditor") else "",
        "currency": scope.currency if "currency" in form.fields else "",
        "team": data["team"].pk if data.get("team") else "",
        "agent": data["agent"].pk if data.get("agent") else "",
        "date_from": data["date_from"].isoformat(), "date_to": data["date_to"].isoformat(),
    }
    return form, scope, {k: v for k, v in params.items() if v != ""}, data["cut"], now


def _tables(scope, params: dict, cut: str):
    """The dashboard's tables, cached until the next rebuild of the facts: they are a pure
    function of the facts and the slice, and a whole company's slice costs seconds to sum."""
    state = rebuild_state()
    key = "reports:tables:" + hashlib.sha256(repr((
        state.finished_at if state else None, sorted(params.items()), cut, scope.agent_ids, scope.include_unassigned,
        scope.today, get_language(),
    )).encode()).hexdigest()
    cached = cache.get(key)
    if cached is None:
        cached = build_tables(scope, params, cut=cut)
        cache.set(key, cached, timeout=3600)
    return cached


def _dashboard(request, template: str):
    form, scope, params, cut, now = _filters(request)
    tables, figures = _tables(scope, params, cut)
    query = urlencode({**params, "cut": cut})
    return render(request, template, {
        "form": form, "tables": tables, "charts": chart_payload(figures), "portfolio": figures["portfolio"],
        "promises": figures["promises"]["total"], "query": query, "scope": scope, "state": rebuild_state(),
        "priorities": priorities_for_user(user=request.user), "now": now,
    })


@role_required(*STAFF_ROLES)
def dashboard(request):
    return _dashboard(request, "reports/dashboard.html")


@role_required(Role.AGENT)
def my_stats(request):
    """An agent's own figures: the same tables, scoped to their cases and interactions."""
    return _dashboard(request, "reports/my_stats.html")


def _case_url_name() -> str | None:
    """The agent workspace's case page when it exists, else the admin's change page."""
    for name in ("desk:detail", "admin:cases_case_change"):
        try:
            reverse(name, args=[1])
            return name
        except NoReverseMatch:
            continue
    return None


@role_required(*ALL_ROLES)
def drill(request):
    """The live list of cases behind a dashboard figure."""
    form, scope, params, _cut, now = _filters(request)
    drill_form = DrillForm(request.GET)
    if not drill_form.is_valid():
        raise Http404
    cases = drill_cases(scope, kind=drill_form.cleaned_data["kind"], params=drill_form.cleaned_data["params"], now=now)
    page = Paginator(cases, settings.CRM_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form, "page": page, "query": query.urlencode(), "kind": drill_form.cleaned_data["kind"],
        "title": exports.drill_title(drill_form.cleaned_data), "case_url_name": _case_url_name(), "scope": scope,
    }
    if not request.user.is_agent:
        context["reassign_form"] = ReassignForm(user=request.user)
    return render(request, "reports/drill.html", context)


@require_POST
@role_required(*STAFF_ROLES)
def reassign(request):
    """Reassign the selected cases (or every case behind the figure) to another agent."""
    _form, scope, _params, _cut, now = _filters(request)
    drill_form = DrillForm(request.GET)
    back = f"{reverse('reports:drill')}?{request.GET.urlencode()}"
    form = ReassignForm(request.POST, user=request.user)
    if not drill_form.is_valid() or not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    if form.cleaned_data["all_matching"]:
        case_ids = drill_case_ids(scope=scope, kind=drill_form.cleaned_data["kind"], params=drill_form.cleaned_data["params"],
                                  now=now, limit=settings.REPORTS_BULK_REASSIGN_MAX + 1)
    else:
        case_ids = form.cleaned_data["case_ids"]
    agent = form.cleaned_data["agent"]
    try:
        changed = cases_reassign(actor=request.user, case_ids=case_ids, agent=agent, now=now)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect(back)
    messages.success(request, _("%(n)d cases reassigned to %(agent)s.") % {"n": changed, "agent": agent.display_name()})
    return redirect(back)


@role_required(*ALL_ROLES)
def export(request, name: str, fmt: str):
    """Any dashboard table (or the drilled case list) as CSV or XLSX, with the same filters."""
    _form, scope, params, cut, now = _filters(request)
    if name == "cases":
        drill_form = DrillForm(request.GET)
        if not drill_form.is_valid():
            raise Http404
        table = drill_table(drill_cases_for_export(scope=scope, kind=drill_form.cleaned_data["kind"],
                                             params=drill_form.cleaned_data["params"], now=now, limit=exports.MAX_EXPORT_ROWS))
    else:
        tables, _figures = _tables(scope, params, cut)
        if name not in tables:
            raise Http404
        table = tables[name]
    filename = f"{name}-{scope.date_from:%Y%m%d}-{scope.date_to:%Y%m%d}.{fmt}"
    content, content_type = exports.render_table(table, fmt)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@role_required(*STAFF_ROLES)
def teams(request):
    """Who is in which team, and what each team should work on first."""
    managed = list(teams_with_members_for_user(user=request.user))
    priorities = {p.team_id: p for p in priorities_for_teams(teams=managed)}
    rows = []
    for team in managed:
        priority = priorities.get(team.pk)
        initial = {"focus_buckets": priority.focus_buckets, "focus_objectives": priority.focus_objectives, "note": priority.note} if priority else {}
        rows.append({"team": team, "priority": priority, "form": TeamPriorityForm(initial=initial, prefix=f"t{team.pk}")})
    return render(request, "reports/teams.html", {"rows": rows, "member_form": TeamMemberForm(user=request.user)})


@require_POST
@role_required(*STAFF_ROLES)
def team_priority(request, team_id: int):
    team = team_get_for_user(user=request.user, team_id=team_id)
    form = TeamPriorityForm(request.POST, prefix=f"t{team.pk}")
    if form.is_valid():
        try:
            team_priority_set(actor=request.user, team=team, **form.cleaned_data)
            messages.success(request, _("Priorities of %(team)s saved.") % {"team": team.name})
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("reports:teams")


@require_POST
@role_required(*STAFF_ROLES)
def team_member(request):
    form = TeamMemberForm(request.POST, user=request.user)
    if form.is_valid():
        try:
            member = team_member_set(actor=request.user, member=form.cleaned_data["member"], team=form.cleaned_data["team"])
            messages.success(request, _("%(agent)s is now in %(team)s.") % {"agent": member.display_name(), "team": member.team or _("no team")})
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
    else:
        for name, errors in form.errors.items():
            for error in errors:
                messages.error(request, f"{form.fields[name].label}: {error}" if name in form.fields else error)
    return redirect("reports:teams")


@require_POST
@role_required(Role.ADMIN)
def rebuild_now(request):
    transaction.on_commit(rebuild_facts.delay)
    messages.info(request, _("The figures are being recalculated; reload in a minute."))
    return redirect("reports:dashboard")
