"""The admin area: templates and policies. Every view is for admins only."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.choices import Channel, Objective, Outcome
from collections_crm.accounts.access import role_required
from collections_crm.accounts.models import Role
from collections_crm.accounts.services import team_save, user_create, user_set_password, user_update
from collections_crm.privacy import selectors as privacy_selectors
from collections_crm.privacy import services as privacy_services
from contacts.engine.outbox import placeholder_values
from contacts.models import LANGUAGES
from contacts.services import template_save_version
from contacts.templating import PLACEHOLDERS, render_text, sms_segments, validate_template
from debtors import selectors as debtor_selectors
from debtors import services as debtor_services

from . import selectors, services
from .checks import PolicyInvalid
from .forms import (
    AnonymiseConfirmForm,
    CadenceForm,
    CreditorForm,
    DebtorSearchForm,
    ExcuseCategoryForm,
    FollowUpSettingsForm,
    GuardrailsForm,
    ImportForm,
    JurisdictionPackForm,
    LegalHoldForm,
    NewUserForm,
    PlaybookForm,
    PortalSettingsForm,
    RuleFormSet,
    SetPasswordForm,
    StepFormSet,
    TeamForm,
    TechniqueForm,
    TemplateCreateForm,
    TemplateTextForm,
    UserForm,
    WhyForm,
    rule_condition_legend,
)

admin_only = role_required(Role.ADMIN)

# Values shown when a template is previewed without a case.
SAMPLE_VALUES = {
    "debtor_name": "María García López", "amount_due": "1.250,00 €", "original_amount": "1.500,00 €",
    "due_date": "15/03/2026", "days_past_due": "45", "creditor_name": "Acreedor S.A.", "case_reference": "REF-000123",
    "agent_name": "Laura Pérez", "company_name": "CobroCRM", "payment_link": "https://pay.example.com/REF-000123",
    "promise_amount": "300,00 €", "promise_date": "30/04/2026",
    "opt_out_text": "Para no recibir más mensajes, responda BAJA. / To stop these messages, reply STOP.",
}


def _form_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError beside the fields it names (the rest above the form)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for error in errors:
                form.add_error(field if field in form.fields else None, error)
    else:
        form.add_error(None, exc)


def _problems_to_form(form, exc: PolicyInvalid) -> None:
    for p in exc.problems:
        form.add_error(p.field if p.field in form.fields else None, p.message)


# --- Home ---------------------------------------------------------------------------------------

@admin_only
def home(request):
    return redirect("adminarea:templates")


# --- Message templates ----------------------------------------------------------------------------

@admin_only
def template_list(request):
    filters = {k: request.GET.get(k, "") for k in ("objective", "channel", "language")}
    # Queries: templates with current version, author and version count (1).
    return render(request, "adminarea/template_list.html", {
        "templates": selectors.template_list(**filters), "filters": filters,
        "objectives": Objective.choices, "channels": Channel.choices, "languages": LANGUAGES,
    })


def _preview(template, *, subject: str, body: str, case) -> dict:
    values = placeholder_values(case=case, debtor=case.debtor, now=timezone.now()) if case else SAMPLE_VALUES
    problems = validate_template(channel=template.channel, subject=subject, body=body)
    rendered_body = render_text(body, values)
    context = {"template": template, "subject": render_text(subject, values), "body": rendered_body,
               "problems": problems, "case": case}
    if template.channel in ("sms", "whatsapp"):
        context["sms_chars"], context["sms_segments"] = sms_segments(rendered_body)
    return context


@admin_only
def template_new(request):
    if request.method == "POST":
        form = TemplateCreateForm(request.POST)
        if form.is_valid():
            try:
                template = services.template_create(actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("Template created as version 1. Cadence steps can use it now."))
                return redirect("adminarea:template_edit", template_id=template.pk)
    else:
        form = TemplateCreateForm(initial={k: request.GET.get(k) for k in ("objective", "channel", "language") if request.GET.get(k)})
    return render(request, "adminarea/template_new.html", {"form": form, "placeholders": PLACEHOLDERS.items()})


@admin_only
def template_edit(request, template_id: int):
    template = selectors.template_get(template_id=template_id)
    current = template.current_version
    cases = selectors.preview_cases()
    if request.method == "POST":
        form = TemplateTextForm(request.POST, channel=template.channel, cases=cases)
        if form.is_valid():
            try:
                version = template_save_version(actor=request.user, template_id=template.pk,
                                                subject=form.cleaned_data.get("subject", ""), body=form.cleaned_data["body"])
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("Saved as version %(n)d. New messages use it from now on.") % {"n": version.number})
                return redirect("adminarea:template_edit", template_id=template.pk)
    else:
        form = TemplateTextForm(initial={"subject": current.subject if current else "", "body": current.body if current else ""},
                                channel=template.channel, cases=cases)
    text = form.data if form.is_bound else form.initial
    preview = _preview(template, subject=text.get("subject", ""), body=text.get("body", ""), case=None)
    return render(request, "adminarea/template_edit.html", {
        "template": template, "form": form, "placeholders": PLACEHOLDERS.items(), "preview": preview,
        "versions": selectors.template_versions(template=template)[:10],
    })


@admin_only
@require_POST
def template_preview(request, template_id: int):
    """htmx: the preview panel for the text being edited, on the chosen case."""
    template = selectors.template_get(template_id=template_id)
    case_id = request.POST.get("case") or ""
    case = selectors.preview_case_get(case_id=int(case_id)) if case_id.isdigit() else None
    context = _preview(template, subject=request.POST.get("subject", ""), body=request.POST.get("body", ""), case=case)
    return render(request, "adminarea/_template_preview.html", {"preview": context})


@admin_only
def template_history(request, template_id: int):
    template = selectors.template_get(template_id=template_id)
    versions = list(selectors.template_versions(template=template))
    compare = None
    a, b = request.GET.get("a"), request.GET.get("b")
    if a and b and a.isdigit() and b.isdigit():
        old = selectors.template_version_get(template=template, number=int(a))
        new = selectors.template_version_get(template=template, number=int(b))
        compare = {"old": old, "new": new, "lines": selectors.version_diff(old=old, new=new)}
    elif len(versions) >= 2:
        compare = {"old": versions[1], "new": versions[0], "lines": selectors.version_diff(old=versions[1], new=versions[0])}
    return render(request, "adminarea/template_history.html", {
        "template": template, "versions": versions, "compare": compare, "audit": selectors.template_audit(template=template),
    })


@admin_only
@require_POST
def template_rollback(request, template_id: int, number: int):
    template = selectors.template_get(template_id=template_id)
    old = selectors.template_version_get(template=template, number=number)
    try:
        version = template_save_version(actor=request.user, template_id=template.pk, subject=old.subject, body=old.body,
                                        rollback_of=old.number)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Version %(old)d restored as version %(new)d.") % {"old": old.number, "new": version.number})
    return redirect("adminarea:template_history", template_id=template.pk)


@admin_only
@require_POST
def template_toggle(request, template_id: int):
    template = selectors.template_get(template_id=template_id)
    services.template_set_active(actor=request.user, template_id=template.pk, active=not template.active)
    return redirect("adminarea:template_edit", template_id=template.pk)


# --- Policies: overview, strategy rules, cadences ----------------------------------------------

@admin_only
def policies(request):
    return render(request, "adminarea/policies.html", {**selectors.policies_overview(), "import_form": ImportForm()})


@admin_only
def rules_edit(request):
    formset = RuleFormSet(request.POST or None, queryset=selectors.strategy_rule_list(), prefix="rules")
    if request.method == "POST" and formset.is_valid():
        rows, forms_by_row = [], []
        for form in formset.forms:
            if not form.has_changed() and form.instance.pk is None:
                continue
            if form in formset.deleted_forms:
                continue
            data = {k: v for k, v in form.cleaned_data.items() if k not in ("id", "DELETE", "creditor")}
            creditor = form.cleaned_data["creditor"]
            rows.append({**data, "creditor_id": creditor.pk if creditor else None, "id": form.instance.pk})
            forms_by_row.append(form)
        try:
            services.strategy_rules_save(actor=request.user, rules=rows)
        except PolicyInvalid as exc:
            for p in exc.problems:
                if p.index is None:
                    formset._non_form_errors = formset.error_class([*formset.non_form_errors(), p.message])
                else:
                    form = forms_by_row[p.index]
                    form.add_error(p.field if p.field in form.fields else None, p.message)
        else:
            messages.success(request, _("Strategy saved. New decisions follow it from now on."))
            return redirect("adminarea:rules")
    return render(request, "adminarea/rules_edit.html", {"formset": formset, "legend": rule_condition_legend()})


@admin_only
def cadence_edit(request, cadence_id: int):
    cadence = selectors.cadence_get(cadence_id=cadence_id)
    form = CadenceForm(request.POST or None, instance=cadence)
    formset = StepFormSet(request.POST or None, instance=cadence, prefix="steps",
                          form_kwargs={"objective": cadence.objective})
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        kept = [f for f in formset.forms if f not in formset.deleted_forms and (f.instance.pk or f.has_changed())]
        # Steps run in day order; keep the admin's order for steps on the same day.
        kept.sort(key=lambda f: f.cleaned_data["delay_days"])
        steps = [{"id": f.instance.pk, **{k: f.cleaned_data[k] for k in
                                          ("delay_days", "send_time", "channel", "kind", "instructions", "is_consequence")},
                  "template_id": f.cleaned_data["template"].pk if f.cleaned_data.get("template") else None} for f in kept]
        try:
            services.cadence_save(actor=request.user, cadence_id=cadence.pk, name=form.cleaned_data["name"],
                                  repeat_every_days=form.cleaned_data["repeat_every_days"],
                                  description=form.cleaned_data["description"], steps=steps)
        except PolicyInvalid as exc:
            for p in exc.problems:
                target = kept[p.index] if p.index is not None else form
                target.add_error(p.field if p.field in target.fields else None, p.message)
        else:
            messages.success(request, _("Cadence saved."))
            return redirect("adminarea:cadence_edit", cadence_id=cadence.pk)
    return render(request, "adminarea/cadence_edit.html", {"cadence": cadence, "form": form, "formset": formset})


# --- Simple entities: packs, guardrails, catalogues, playbooks --------------------------------------

def _entity_form(request, *, form_class, instance, save, title: str, back: str, success: str):
    """Shared edit page: a ModelForm validates the fields, one service saves and audits."""
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        for name, value in list(data.items()):
            if hasattr(value, "pk"):
                data[f"{name}_id"] = value.pk
        try:
            save(data)
        except PolicyInvalid as exc:
            _problems_to_form(form, exc)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, success)
            return redirect(back)
    return render(request, "adminarea/entity_form.html", {"form": form, "title": title, "back": back, "section": back.split(":")[1]})


@admin_only
def pack_edit(request, pack_id: int | None = None):
    pack = selectors.jurisdiction_pack_get(pack_id=pack_id)
    return _entity_form(
        request, form_class=JurisdictionPackForm, instance=pack,
        save=lambda data: services.jurisdiction_pack_save(actor=request.user, pack_id=pack_id, data=data),
        title=_("Contact policy: %(name)s") % {"name": pack.name} if pack else _("New contact policy"),
        back="adminarea:policies", success=_("Contact policy saved."),
    )


@admin_only
def guardrails_edit(request):
    return _entity_form(
        request, form_class=GuardrailsForm, instance=selectors.guardrails_get(),
        save=lambda data: services.guardrails_update(actor=request.user, data=data),
        title=_("Payment-plan guardrails"), back="adminarea:policies", success=_("Guardrails saved."),
    )


@admin_only
def followup_settings_edit(request):
    return _entity_form(
        request, form_class=FollowUpSettingsForm, instance=selectors.followup_settings_for_edit(),
        save=lambda data: services.followup_settings_update(actor=request.user, data=data),
        title=_("Promise follow-up"), back="adminarea:policies", success=_("Promise follow-up saved."),
    )


@admin_only
def portal_settings_edit(request):
    return _entity_form(
        request, form_class=PortalSettingsForm, instance=selectors.portal_settings_for_edit(),
        save=lambda data: services.portal_settings_update(actor=request.user, data=data),
        title=_("Self-service portal"), back="adminarea:portal_settings", success=_("Portal settings saved."),
    )


@admin_only
def catalogues(request):
    return render(request, "adminarea/catalogues.html", {
        "techniques": selectors.technique_list(),
        "excuses": selectors.excuse_category_list(),
        "outcomes": Outcome.choices,
        "conversation_outcomes": set(Outcome.conversation_values()),
        "playbooks": selectors.playbook_list(),
    })


@admin_only
def technique_edit(request, technique_id: int | None = None):
    obj = selectors.technique_get(technique_id=technique_id)
    return _entity_form(
        request, form_class=TechniqueForm, instance=obj,
        save=lambda data: services.technique_save(actor=request.user, technique_id=technique_id, data=data),
        title=_("Technique"), back="adminarea:catalogues", success=_("Technique saved."),
    )


@admin_only
def excuse_edit(request, excuse_id: int | None = None):
    obj = selectors.excuse_category_get(excuse_id=excuse_id)
    return _entity_form(
        request, form_class=ExcuseCategoryForm, instance=obj,
        save=lambda data: services.excuse_category_save(actor=request.user, excuse_id=excuse_id, data=data),
        title=_("Excuse category"), back="adminarea:catalogues", success=_("Excuse category saved."),
    )


@admin_only
def playbook_edit(request, playbook_id: int | None = None):
    obj = selectors.playbook_get(playbook_id=playbook_id)
    return _entity_form(
        request, form_class=PlaybookForm, instance=obj,
        save=lambda data: services.playbook_save(actor=request.user, playbook_id=playbook_id, data=data),
        title=_("Playbook"), back="adminarea:catalogues", success=_("Playbook saved."),
    )


# --- Export and import --------------------------------------------------------------------------

@admin_only
def policies_export(request):
    body = json.dumps(services.policies_export(), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="policies-{timezone.localdate():%Y%m%d}.json"'
    return response


@admin_only
@require_POST
def policies_import(request):
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a policies file to import."))
        return redirect("adminarea:policies")
    upload = form.cleaned_data["file"]
    if upload.size > 2_000_000:
        messages.error(request, _("The file is too large."))
        return redirect("adminarea:policies")
    try:
        data = json.loads(upload.read().decode("utf-8"))
        changed = services.policies_import(actor=request.user, data=data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        messages.error(request, _("The file is not valid JSON."))
    except PolicyInvalid as exc:
        messages.error(request, _("Nothing was imported: %(problems)s") % {"problems": " · ".join(p.message for p in exc.problems)})
    else:
        messages.success(request, _("Policies imported (%(n)d rows updated).") % {"n": changed})
    return redirect("adminarea:policies")


# --- The "why" tester -----------------------------------------------------------------------------

@admin_only
def why(request):
    form = WhyForm(request.GET or None)
    context = {"form": form}
    if form.is_valid():
        case = selectors.preview_case_get(case_id=form.cleaned_data["case"])
        if case is None:
            form.add_error("case", _("No case with this id."))
        else:
            context |= {"case": case, **selectors.why_case(case=case, now=timezone.now())}
    return render(request, "adminarea/why.html", context)


# --- People and creditors ----------------------------------------------------------------------

@admin_only
def user_list(request):
    filters = {k: request.GET.get(k, "") for k in ("q", "role", "team", "active", "sort")}
    page = Paginator(selectors.user_list(**filters), 50).get_page(request.GET.get("page", 1))
    query = request.GET.copy()
    query.pop("page", None)
    sort_query = query.copy()
    sort_query.pop("sort", None)
    return render(request, "adminarea/user_list.html", {
        "page": page, "filters": filters, "roles": Role.choices, "teams": selectors.team_options(), "query": query.urlencode(),
        "sort_query": sort_query.urlencode(),
    })


@admin_only
def user_new(request):
    form = NewUserForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if not k.startswith("password")}
        data["team_id"] = data.pop("team").pk if data.get("team") else None
        try:
            user = user_create(actor=request.user, data=data, password=form.cleaned_data["password1"])
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("User %(name)s created.") % {"name": user.username})
            return redirect("adminarea:users")
    return render(request, "adminarea/user_form.html", {"form": form, "title": _("New user")})


@admin_only
def user_edit(request, user_id: int):
    member = selectors.user_get(user_id=user_id)
    form = UserForm(instance=member)
    password_form = SetPasswordForm()
    if request.method == "POST" and "password1" in request.POST:
        password_form = SetPasswordForm(request.POST)
        if password_form.is_valid():
            try:
                user_set_password(actor=request.user, user_id=member.pk, password=password_form.cleaned_data["password1"])
            except ValidationError as exc:
                _form_errors(password_form, exc)
            else:
                messages.success(request, _("New password set for %(name)s.") % {"name": member.username})
                return redirect("adminarea:user_edit", user_id=member.pk)
    elif request.method == "POST":
        # A copy of its own: validating writes the form's values onto it, and the page shows the saved user.
        form = UserForm(request.POST, instance=selectors.user_get(user_id=member.pk))
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["team_id"] = data.pop("team").pk if data.get("team") else None
            try:
                user_update(actor=request.user, user_id=member.pk, data=data)
            except ValidationError as exc:
                _form_errors(form, exc)
            else:
                messages.success(request, _("User %(name)s saved.") % {"name": data["username"]})
                return redirect("adminarea:users")
    return render(request, "adminarea/user_form.html", {
        "form": form, "password_form": password_form, "member": member, "title": member.display_name(),
        "audit": selectors.user_audit(user=member),
    })


@admin_only
def team_list(request):
    return render(request, "adminarea/team_list.html", {"teams": selectors.team_list()})


@admin_only
def team_edit(request, team_id: int | None = None):
    team = selectors.team_get(team_id=team_id)
    return _entity_form(
        request, form_class=TeamForm, instance=team,
        save=lambda data: team_save(actor=request.user, team_id=team_id, data=data),
        title=_("Team: %(name)s") % {"name": team.name} if team else _("New team"), back="adminarea:teams", success=_("Team saved."),
    )


@admin_only
def creditor_list(request):
    return render(request, "adminarea/creditor_list.html", {"creditors": selectors.creditor_list()})


@admin_only
def creditor_edit(request, creditor_id: int | None = None):
    creditor = selectors.creditor_get(creditor_id=creditor_id)
    return _entity_form(
        request, form_class=CreditorForm, instance=creditor,
        save=lambda data: services.creditor_save(actor=request.user, creditor_id=creditor_id, data=data),
        title=_("Creditor: %(name)s") % {"name": creditor.name} if creditor else _("New creditor"),
        back="adminarea:creditors", success=_("Creditor saved."),
    )



# --- Data protection: a debtor's export, legal hold and erasure ------------------------------------

@admin_only
def debtor_privacy_list(request):
    form = DebtorSearchForm(request.GET or None)
    debtors = privacy_selectors.debtor_privacy_search(q=form.cleaned_data["q"]) if form.is_valid() else []
    return render(request, "adminarea/debtor_privacy_list.html", {"form": form, "debtors": debtors})


def _privacy_context(debtor, *, now) -> dict:
    cases = privacy_selectors.debtor_case_retention(debtor_id=debtor.pk)
    return {"debtor": debtor, "cases": cases, "decision": privacy_selectors.debtor_erasability(debtor=debtor, now=now, cases=cases)}


@admin_only
def debtor_privacy(request, debtor_id: int):
    debtor = debtor_selectors.debtor_get(debtor_id=debtor_id)
    hold_form = LegalHoldForm(initial={"hold": debtor.legal_hold, "reason": debtor.legal_hold_reason})
    return render(request, "adminarea/debtor_privacy.html", {**_privacy_context(debtor, now=timezone.now()), "hold_form": hold_form})


@admin_only
def debtor_export(request, debtor_id: int):
    """POST: the JSON file of everything held about the debtor (audited); GET shows the page."""
    debtor = debtor_selectors.debtor_get(debtor_id=debtor_id)
    if request.method != "POST":
        return redirect("adminarea:debtor_privacy", debtor_id=debtor.pk)
    document = privacy_services.debtor_export(actor=request.user, debtor_id=debtor.pk)
    response = HttpResponse(json.dumps(document, ensure_ascii=False, indent=2), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="debtor-{debtor.pk}-{timezone.localdate():%Y%m%d}.json"'
    return response


@admin_only
def debtor_legal_hold(request, debtor_id: int):
    debtor = debtor_selectors.debtor_get(debtor_id=debtor_id)
    if request.method != "POST":
        return redirect("adminarea:debtor_privacy", debtor_id=debtor.pk)
    form = LegalHoldForm(request.POST)
    if form.is_valid():
        try:
            debtor = debtor_services.debtor_set_legal_hold(actor=request.user, debtor_id=debtor.pk, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors(form, exc)
        else:
            messages.success(request, _("Legal hold set.") if debtor.legal_hold else _("Legal hold lifted."))
            return redirect("adminarea:debtor_privacy", debtor_id=debtor.pk)
    return render(request, "adminarea/debtor_privacy.html", {**_privacy_context(debtor, now=timezone.now()), "hold_form": form},
                  status=400)


@admin_only
def debtor_anonymise(request, debtor_id: int):
    """A confirmation page, then the erasure (only when the debtor is erasable)."""
    debtor = debtor_selectors.debtor_get(debtor_id=debtor_id)
    now = timezone.now()
    form = AnonymiseConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            counts = privacy_services.debtor_anonymise(actor=request.user, debtor_id=debtor.pk, now=now)
        except privacy_services.DebtorNotErasable as exc:
            messages.error(request, exc.decision.message)
        else:
            if counts is None:
                messages.info(request, _("This debtor was already anonymised."))
            else:
                messages.success(request, _("The debtor's personal data was anonymised."))
        return redirect("adminarea:debtor_privacy", debtor_id=debtor.pk)
    return render(request, "adminarea/debtor_privacy_anonymise.html", {**_privacy_context(debtor, now=now), "form": form})
