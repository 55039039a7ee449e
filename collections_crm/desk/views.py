"""The agent workspace: the work queue and the case page. Views validate, fetch through the
selectors (which own visibility: an invisible case is a 404), call one service and render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from cases.choices import CaseStatus
from cases.selectors import (
    agent_sees_team,
    case_get_for_user,
    case_has_plan,
    case_queue_page,
    plan_actions_for_user,
    plan_inbox_for_user,
    user_can_write_case,
)
from cases.services import (
    ContactRestriction,
    barrier_open,
    barrier_remove,
    case_assign,
    case_restrict_contact,
    case_schedule_followup,
    case_set_status,
    case_take_next,
    payment_post,
    plan_adjust_to_balance,
    plan_agree,
    plan_cancel,
    plan_create,
    plan_schedule,
    promise_record,
)
from collections_crm.accounts.access import ALL_ROLES, STAFF_ROLES, role_required
from collections_crm.core.forms import apply_validation_error
from collections_crm.selfservice.activity import case_look_record, portal_unseen_q
from collections_crm.selfservice.links import link_issue, links_revoke
from collections_crm.selfservice.models import LinkSource
from collections_crm.selfservice.selectors import case_selfservice_panel, upload_get_for_case
from collections_crm.selfservice.services import upload_open
from contacts.selectors import excuse_category_list, technique_list
from contacts.services import contact_attempt_log
from debtors.services import debtor_confirm_timezone, debtor_update

from . import forms
from .selectors import (
    case_contact_points,
    case_contact_statuses,
    case_preparation,
    case_timeline,
    debtor_zones,
    timeline_kind_choices,
)

# --- Queue --------------------------------------------------------------------------------------


@role_required(*ALL_ROLES)
@require_GET
def case_queue(request):
    now = timezone.now()
    filter_form = forms.QueueFilterForm(request.GET or None)
    filters = filter_form.filters()
    narrow = portal_unseen_q(user=request.user) if filters.get("portal_new") else None
    page, cases = case_queue_page(user=request.user, now=now, filters=filters, page=request.GET.get("page", 1), narrow=narrow)
    statuses = case_contact_statuses(cases=cases, now=now)
    rows = [(case, statuses[case.pk]) for case in cases]
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    context = {
        "filter_form": filter_form,
        "page": page,
        "rows": rows,
        "now": now,
        "today": timezone.localdate(now),
        "query": query.urlencode(),
        "sort_query": sort_query.urlencode(),
        "sort": request.GET.get("sort", ""),
        "scope": request.GET.get("scope", ""),
        "can_see_team": agent_sees_team(user=request.user),
    }
    return render(request, "desk/case_queue.html", context)


@role_required(*ALL_ROLES)
@require_POST
def case_next(request):
    if not request.user.is_agent:
        messages.info(request, _("Only agents take cases from the queue."))
        return redirect("desk:queue")
    case = case_take_next(agent=request.user)
    if case is None:
        messages.success(request, _("Nothing is due right now and the pool is empty. Well done."))
        return redirect("desk:queue")
    return redirect("desk:detail", case_id=case.pk)


# --- Case page ----------------------------------------------------------------------------------


def _action_form(request, case, name: str, data=None):
    """The form of one action on ``case``, bound to ``data`` when given."""
    points = case.debtor.contact_points.all()
    builders = {
        "interaction": lambda: forms.InteractionForm(data, case=case, points=points, techniques=technique_list(active=True),
                                                     excuses=excuse_category_list(active=True)),
        "promise": lambda: forms.PromiseForm(data, case=case),
        "plan": lambda: forms.PlanForm(data, case=case),
        "payment": lambda: forms.PaymentForm(data, case=case),
        "barrier": lambda: forms.BarrierForm(data, case=case),
        "barrier_remove": lambda: forms.BarrierRemoveForm(data, case=case),
        "followup": lambda: forms.FollowupForm(data, case=case),
        "restrict": lambda: forms.RestrictForm(data, case=case, points=points),
        "reassign": lambda: forms.ReassignForm(data, case=case, user=request.user),
    }
    if name not in builders or (name == "reassign" and request.user.is_agent):
        raise Http404
    return builders[name]()


def _workspace_context(request, case, *, active: str = "interaction", bound=None, flash: str = "", zones_form=None,
                       issued=None, identity_form=None) -> dict:
    """Everything the case page shows, in a fixed number of queries whatever the history size.
    Only the open action's form is rendered; the others load when their tab is opened (they are
    most of the page's rendering time and most visits use one or two)."""
    now = timezone.now()
    user = request.user
    can_write = user_can_write_case(user=user, case=case)
    kind = request.GET.get("kind", "")
    timeline_page, timeline = case_timeline(case=case, kind=kind, page=request.GET.get("page", 1))
    prep = case_preparation(case=case, today=timezone.localdate(now), language=(request.LANGUAGE_CODE or "es")[:2])
    return {
        "case": case,
        "now": now,
        "today": timezone.localdate(now),
        "debtor_contact": case_contact_statuses(cases=[case], now=now)[case.pk],
        "points": case_contact_points(case=case),
        "debtor_zones": debtor_zones(debtor=case.debtor, now=now),
        "zones_form": (zones_form or forms.DebtorTimezoneForm(debtor=case.debtor)) if can_write else None,
        "prep": prep,
        "plan_actions": plan_actions_for_user(user=user, plan=prep["plan"], case=case, can_write=can_write,
                                              today=timezone.localdate(now)),
        "timeline_page": timeline_page,
        "timeline": timeline,
        "timeline_kinds": timeline_kind_choices(),
        "timeline_kind": kind,
        "can_write": can_write,
        "can_reassign": can_write and not user.is_agent,
        "selfservice": case_selfservice_panel(case=case, now=now),
        "issued": issued,
        "identity_form": (identity_form or forms.DebtorIdentityForm(debtor=case.debtor)) if can_write else None,
        "flash": flash,
        "active_action": active,
        "active_form": (bound or _action_form(request, case, active)) if can_write else None,
    }


@role_required(*ALL_ROLES)
@require_GET
def case_detail(request, case_id: int):
    case = case_get_for_user(user=request.user, case_id=case_id)
    # What the queue's "portal activity since my last look" compares with.
    case_look_record(user=request.user, case_id=case.pk)
    return render(request, "desk/case_detail.html", _workspace_context(request, case))


@role_required(*ALL_ROLES)
@require_GET
def case_action_form(request, case_id: int, name: str):
    """One action's empty form, loaded when its tab is first opened."""
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    return render(request, f"desk/_form_{name}.html", {"case": case, "form": _action_form(request, case, name)})


@role_required(*ALL_ROLES)
@require_GET
def case_timeline_fragment(request, case_id: int):
    case = case_get_for_user(user=request.user, case_id=case_id)
    timeline_page, timeline = case_timeline(case=case, kind=request.GET.get("kind", ""), page=request.GET.get("page", 1))
    context = {
        "case": case,
        "timeline_page": timeline_page,
        "timeline": timeline,
        "timeline_kinds": timeline_kind_choices(),
        "timeline_kind": request.GET.get("kind", ""),
    }
    return render(request, "desk/_timeline.html", context)


def _case_action(request, case_id: int, name: str, run, success: str):
    """The shape of every action: fetch the case the user may act on (404 otherwise), validate
    the form, call the service; re-render the whole workspace on success (htmx swaps it in
    place) or only the form with its errors."""
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    form = _action_form(request, case, name, request.POST)
    if form.is_valid():
        try:
            run(case, form.cleaned_data, form)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if not request.htmx:
                messages.success(request, success)
                return redirect("desk:detail", case_id=case.pk)
            case = case_get_for_user(user=request.user, case_id=case_id)
            return render(request, "desk/_workspace.html", _workspace_context(request, case, flash=success))
    stale = any(e.code == "stale" for e in form.non_field_errors().as_data())
    if request.htmx:
        response = render(request, f"desk/_form_{name}.html", {"case": case, "form": form, "stale": stale})
        return reswap(retarget(response, f"#form-{name}"), "outerHTML")
    context = _workspace_context(request, case, active=name, bound=form)
    context["stale"] = stale
    return TemplateResponse(request, "desk/case_detail.html", context, status=400)


@role_required(*ALL_ROLES)
@require_POST
def case_log_interaction(request, case_id: int):
    def run(case, data, form):
        contact_attempt_log(
            actor=request.user, case_id=case.pk, channel=data["channel"], direction=data["direction"],
            contact_point=data["contact_point"], objective=data["objective"], techniques=list(data["techniques"]),
            outcome=data["outcome"], excuse_category=data["excuse_category"], statement_kind=data["statement_kind"] or "",
            notes=data["notes"], next_step=data["next_step"], next_step_at=data["next_step_at"],
            expected_version=data["version"],
        )

    return _case_action(request, case_id, "interaction", run, _("Interaction logged."))


@role_required(*ALL_ROLES)
@require_POST
def case_promise(request, case_id: int):
    def run(case, data, form):
        promise_record(actor=request.user, case_id=case.pk, amount=data["amount"], due_date=data["due_date"],
                       method=data["method"], expected_version=data["version"])

    return _case_action(request, case_id, "promise", run, _("Promise to pay recorded."))


@role_required(*ALL_ROLES)
@require_POST
def case_payment(request, case_id: int):
    def run(case, data, form):
        payment_post(actor=request.user, case_id=case.pk, amount=data["amount"], received_on=data["received_on"],
                     method=data["method"], reference=data["reference"], expected_version=data["version"])

    return _case_action(request, case_id, "payment", run, _("Payment recorded."))


@role_required(*ALL_ROLES)
@require_POST
def case_plan_preview(request, case_id: int):
    """The calculator: the schedule the plan would have, shown before saving (nothing written)."""
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    form = forms.PlanForm(request.POST, case=case)
    schedule, total = [], None
    if form.is_valid():
        data = form.cleaned_data
        schedule = plan_schedule(total=data["total_amount"], count=data["instalment_count"],
                                 frequency=data["frequency"], first_date=data["first_date"])
        total = data["total_amount"]
    return render(request, "desk/_plan_schedule.html", {"case": case, "form": form, "schedule": schedule, "total": total})


@role_required(*ALL_ROLES)
@require_POST
def case_plan(request, case_id: int):
    def run(case, data, form):
        plan_create(actor=request.user, case_id=case.pk, total_amount=data["total_amount"], frequency=data["frequency"],
                    instalments=form.instalments, agreed=data["agreed"], expected_version=data["version"])

    return _case_action(request, case_id, "plan", run, _("Payment plan saved."))


@role_required(*ALL_ROLES)
@require_POST
def case_barrier(request, case_id: int):
    def run(case, data, form):
        barrier_open(actor=request.user, case_id=case.pk, kind=data["kind"], description=data["description"],
                     expected_version=data["version"])

    return _case_action(request, case_id, "barrier", run, _("Barrier opened."))


@role_required(*ALL_ROLES)
@require_POST
def case_barrier_remove(request, case_id: int, barrier_id: int):
    def run(case, data, form):
        barrier_remove(actor=request.user, barrier_id=barrier_id, case_id=case.pk, expected_version=data["version"])

    return _case_action(request, case_id, "barrier_remove", run, _("Barrier removed."))


@role_required(*ALL_ROLES)
@require_POST
def case_followup(request, case_id: int):
    def run(case, data, form):
        case_schedule_followup(actor=request.user, case_id=case.pk, at=data["at"], note=data["note"],
                               expected_version=data["version"])

    return _case_action(request, case_id, "followup", run, _("Follow-up scheduled."))


@role_required(*ALL_ROLES)
@require_POST
def case_restrict(request, case_id: int):
    def run(case, data, form):
        if data["action"] == forms.RestrictForm.DISPUTE:
            case_set_status(actor=request.user, case_id=case.pk, status=CaseStatus.DISPUTED, expected_version=data["version"])
            return
        restriction = {
            "cease": ContactRestriction.CEASE,
            "do_not_contact": ContactRestriction.DO_NOT_CONTACT,
            "point_do_not_contact": ContactRestriction.POINT_DO_NOT_CONTACT,
        }[data["action"]]
        point = data.get("contact_point")
        case_restrict_contact(actor=request.user, case_id=case.pk, restriction=restriction,
                              contact_point_id=point.pk if point else None, expected_version=data["version"])

    return _case_action(request, case_id, "restrict", run, _("Flag recorded."))


@role_required(*STAFF_ROLES)
@require_POST
def case_reassign(request, case_id: int):
    def run(case, data, form):
        case_assign(actor=request.user, case_id=case.pk, agent=data["agent"], expected_version=data["version"])

    return _case_action(request, case_id, "reassign", run, _("Case reassigned."))


@role_required(*ALL_ROLES)
@require_POST
def case_debtor_timezone(request, case_id: int):
    """Confirm the debtor's time zone from the case page: the contact hours then hold in that
    zone only. Those who may act on the case may confirm; the debtor's open cases are replanned."""
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    form = forms.DebtorTimezoneForm(request.POST, debtor=case.debtor)
    if form.is_valid():
        try:
            debtor_confirm_timezone(actor=request.user, debtor_id=case.debtor_id, timezone=form.cleaned_data["timezone"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            success = _("Time zone confirmed.")
            if not request.htmx:
                messages.success(request, success)
                return redirect("desk:detail", case_id=case.pk)
            case = case_get_for_user(user=request.user, case_id=case_id)
            return render(request, "desk/_workspace.html", _workspace_context(request, case, flash=success))
    if request.htmx:
        now = timezone.now()
        response = render(request, "desk/_debtor_zones.html",
                          {"case": case, "debtor_zones": debtor_zones(debtor=case.debtor, now=now), "zones_form": form})
        return reswap(retarget(response, "#debtor-zones"), "outerHTML")
    return TemplateResponse(request, "desk/case_detail.html", _workspace_context(request, case, zones_form=form), status=400)


# --- Payment plans awaiting agreement or approval ----------------------------------------------


@role_required(*STAFF_ROLES)
def plan_inbox(request):
    page, rows = plan_inbox_for_user(user=request.user, today=timezone.localdate(), page=request.GET.get("page", 1))
    return render(request, "desk/plan_inbox.html", {"page": page, "rows": rows})


def _back(request, case):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("desk:detail", case_id=case.pk)


def _plan_action(request, case_id: int, plan_id: int, run, success: str):
    """Agree or cancel one of the case's plans, then back to where the user was."""
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    if not case_has_plan(case=case, plan_id=plan_id):
        raise Http404
    try:
        run()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success % {"ref": case.reference})
    return _back(request, case)


@role_required(*ALL_ROLES)
@require_POST
def case_plan_agree(request, case_id: int, plan_id: int):
    return _plan_action(request, case_id, plan_id, lambda: plan_agree(actor=request.user, plan_id=plan_id),
                        _("Plan %(ref)s agreed: it is live now."))


@role_required(*ALL_ROLES)
@require_POST
def case_plan_cancel(request, case_id: int, plan_id: int):
    return _plan_action(request, case_id, plan_id,
                        lambda: plan_cancel(actor=request.user, plan_id=plan_id, reason=request.POST.get("reason", "")),
                        _("Plan %(ref)s cancelled."))


@role_required(*ALL_ROLES)
@require_POST
def case_plan_adjust(request, case_id: int, plan_id: int):
    return _plan_action(request, case_id, plan_id, lambda: plan_adjust_to_balance(actor=request.user, plan_id=plan_id),
                        _("Plan %(ref)s adjusted to the balance: it is still proposed."))


# --- Self-service: personal links and the files the debtor sent ----------------------------------


def _selfservice_response(request, case, *, issued=None, flash: str = "", identity_form=None, status: int = 200):
    """The self-service panel again (htmx) or the whole case page. Never cached: it may show a
    new link's URL and code, which are not stored anywhere and are shown this once."""
    context = _workspace_context(request, case, issued=issued, flash=flash, identity_form=identity_form)
    # The panel's own message, only when the panel alone is sent back (the workspace's shows the others).
    context["selfservice_flash"] = flash if request.htmx else ""
    template = "desk/_selfservice.html" if request.htmx else "desk/case_detail.html"
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


@role_required(*ALL_ROLES)
@require_POST
def case_link_issue(request, case_id: int):
    """A new personal link for the agent to read out or send: only those who may act on the case."""
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    issued = link_issue(case_id=case.pk, source=LinkSource.AGENT, actor=request.user)
    return _selfservice_response(request, case, issued=issued)


@role_required(*ALL_ROLES)
@require_POST
def case_links_revoke(request, case_id: int):
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    ended = links_revoke(case_id=case.pk, actor=request.user)
    flash = (ngettext("%(n)d personal link ended.", "%(n)d personal links ended.", ended) % {"n": ended}
             if ended else _("There was no working link to end."))
    if not request.htmx:
        messages.success(request, flash)
        return redirect("desk:detail", case_id=case.pk)
    return _selfservice_response(request, case, flash=flash)


@role_required(*ALL_ROLES)
@require_POST
def case_debtor_identity(request, case_id: int):
    """The debtor's answers to the portal's identity check, by those who may act on the case."""
    case = case_get_for_user(user=request.user, case_id=case_id, for_write=True)
    form = forms.DebtorIdentityForm(request.POST, debtor=case.debtor)
    if form.is_valid():
        try:
            debtor_update(actor=request.user, debtor_id=case.debtor_id, expected_updated_at=form.expected_updated_at(),
                          changes={"postal_code": form.cleaned_data["postal_code"], "birth_date": form.cleaned_data["birth_date"]})
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            success = _("Identity answers saved.")
            if not request.htmx:
                messages.success(request, success)
                return redirect("desk:detail", case_id=case.pk)
            case = case_get_for_user(user=request.user, case_id=case_id)
            return _selfservice_response(request, case, flash=success)
    return _selfservice_response(request, case, identity_form=form, status=200 if request.htmx else 400)


# A file is served with its own type only when that type cannot run in the browser; anything else
# is plain bytes. Always as an attachment, never sniffed.
SAFE_DOWNLOAD_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp", "text/plain"})


@role_required(*ALL_ROLES)
@require_GET
def case_upload_download(request, case_id: int, upload_id: int):
    """A file the debtor sent, for staff who may see the case (404 for anyone else, and for a file
    of another case), from the private storage that the web server never serves."""
    case = case_get_for_user(user=request.user, case_id=case_id)
    upload = upload_get_for_case(case=case, upload_id=upload_id)
    try:
        handle = upload_open(actor=request.user, upload=upload)
    except FileNotFoundError:
        raise Http404 from None
    content_type = upload.content_type if upload.content_type in SAFE_DOWNLOAD_TYPES else "application/octet-stream"
    response = FileResponse(handle, as_attachment=True, filename=upload.original_name or "file", content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response
