from __future__ import annotations

import re
from functools import cached_property

from django import forms
from django.forms import BaseModelFormSet, inlineformset_factory, modelformset_factory
from django.utils.translation import gettext_lazy as _

from cases.choices import Channel, Objective
from cases.models import Creditor, PlanGuardrails
from collections_crm.accounts.models import Role, Team, User
from collections_crm.selfservice.models import PortalSettings
from contacts.models import (
    LANGUAGES,
    Cadence,
    CadenceStep,
    ExcuseCategory,
    FollowUpSettings,
    JurisdictionPack,
    MessageTemplate,
    Playbook,
    RuleCondition,
    StrategyRule,
    Technique,
)
from debtors.models import DebtorKind

from .checks import NO_PARAMETERS, RULE_PARAMETERS
from .services import CATALOGUE_FIELDS, GUARDRAIL_FIELDS, PACK_FIELDS, PORTAL_SETTINGS_FIELDS


class CompactRowMixin:
    """Bootstrap classes for forms rendered as table rows (no crispy layout there). The column
    header is the only visible label, so each input is named by its field's label; help texts
    are not shown in a row (the page explains its columns), so no input points at one."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.help_text = ""
            widget = field.widget
            widget.attrs.setdefault("aria-label", field.label)
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "form-check-input"
            elif isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select form-select-sm"
            else:
                widget.attrs["class"] = "form-control form-control-sm"


class TemplateTextForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    body = forms.CharField(label=_("Body"), max_length=10000, required=False, widget=forms.Textarea(attrs={"rows": 14}))
    case = forms.IntegerField(label=_("Preview on case"), required=False, widget=forms.Select)

    def __init__(self, *args, channel: str, cases=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["case"].widget.choices = [("", _("Sample values"))] + [
            (c.pk, f"{c.reference} · {c.debtor.name}") for c in cases
        ]
        if channel not in ("email", "letter"):
            # Only e-mails and letters have a subject line.
            del self.fields["subject"]


class TemplateCreateForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=120)
    objective = forms.ChoiceField(label=_("Objective"), choices=Objective.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.outreach_choices())
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGES)
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False,
                              help_text=_("E-mails and letters only; leave empty for other channels."))
    body = forms.CharField(label=_("Body"), max_length=10000, widget=forms.Textarea(attrs={"rows": 12}))


class TechniqueForm(forms.ModelForm):
    class Meta:
        model = Technique
        fields = CATALOGUE_FIELDS


class ExcuseCategoryForm(forms.ModelForm):
    class Meta:
        model = ExcuseCategory
        fields = CATALOGUE_FIELDS + ["suggested_objective", "is_barrier", "barrier_kind"]
        help_texts = {"barrier_kind": _("Payment barriers only: what is missing on our side. Logging this excuse opens "
                                        "that barrier on the case.")}


class PlaybookForm(forms.ModelForm):
    class Meta:
        model = Playbook
        fields = ["objective", "excuse_category", "language", "title", "talking_points", "active"]
        widgets = {"talking_points": forms.Textarea(attrs={"rows": 8})}


class GuardrailsForm(forms.ModelForm):
    class Meta:
        model = PlanGuardrails
        fields = GUARDRAIL_FIELDS


class PortalSettingsForm(forms.ModelForm):
    class Meta:
        model = PortalSettings
        fields = PORTAL_SETTINGS_FIELDS
        widgets = {name: forms.Textarea(attrs={"rows": 3}) for name in ("welcome_es", "welcome_en", "help_es", "help_en")}
        help_texts = {
            "link_valid_days": _("Links already given keep the expiry they were given."),
            "max_identity_attempts": _("After this many wrong answers the link locks for the minutes below."),
            "min_payment": _("The smallest amount a debtor may pay online (the whole balance when it is smaller)."),
            "welcome_es": _("Shown on the portal's first page after the debtor proves who they are."),
            "help_es": _("How to reach a person: shown on every page of the portal, also when a link has ended."),
        }


class FollowUpSettingsForm(forms.ModelForm):
    class Meta:
        model = FollowUpSettings
        fields = ["promise_grace_days", "reminder_days_before", "reminder_channel", "reminder_template", "missed_instalments_to_default",
                  "paused_commitments"]
        widgets = {"paused_commitments": forms.RadioSelect}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reminder_template"].queryset = MessageTemplate.objects.filter(active=True).order_by("objective", "channel", "language")


class JurisdictionPackForm(forms.ModelForm):
    class Meta:
        model = JurisdictionPack
        fields = PACK_FIELDS
        widgets = {
            "start_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "end_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }

    def validate_unique(self):
        # The service checks the whole set of packs (one default, no shared country) and reports
        # it beside the field; the model's partial unique constraint would only say "exists".
        pass


class RuleForm(CompactRowMixin, forms.ModelForm):
    """One line of the strategy editor. The set is checked as a whole by the service
    (checks.check_rules): which of N, D and the amount the condition takes, and reachability.
    An empty creditor or debtor kind means every case."""

    class Meta:
        model = StrategyRule
        fields = ["position", "name", "condition", "threshold", "window_days", "amount", "creditor", "debtor_kind", "objective",
                  "active", "description"]
        widgets = {"description": forms.TextInput(), "amount": forms.NumberInput(attrs={"step": "0.01", "min": "0"})}

    def __init__(self, *args, creditor_choices: list[tuple], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["creditor"].choices = creditor_choices
        self.fields["debtor_kind"].choices = [("", _("Every kind")), *DebtorKind.choices]


class BaseRuleFormSet(BaseModelFormSet):
    """Gives every row the same creditor choices, read once for the page (not once per row)."""

    @cached_property
    def creditor_choices(self) -> list[tuple]:
        return [("", _("Every creditor")), *((c.pk, c.name) for c in Creditor.objects.order_by("name"))]

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "creditor_choices": self.creditor_choices}


RuleFormSet = modelformset_factory(
    StrategyRule, form=RuleForm, formset=BaseRuleFormSet, extra=1, can_delete=True)


def rule_condition_legend() -> list[dict]:
    """The strategy editor's legend: each condition, in the order of its select, with what it
    takes (checks.RULE_PARAMETERS) as ``uses``: the least N, D and amount, None for a parameter
    it does not use."""
    legend = []
    for value, label in RuleCondition.choices:
        takes = RULE_PARAMETERS.get(value, NO_PARAMETERS)
        uses = (None if takes.min_threshold is None else f"≥ {takes.min_threshold}", "≥ 1" if takes.window else None,
                "> 0" if takes.amount else None)
        legend.append({"condition": value, "label": label, "uses": uses})
    return legend


class CadenceForm(forms.ModelForm):
    class Meta:
        model = Cadence
        fields = ["name", "repeat_every_days", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class StepForm(CompactRowMixin, forms.ModelForm):
    class Meta:
        model = CadenceStep
        fields = ["delay_days", "send_time", "channel", "kind", "template", "instructions", "is_consequence"]
        widgets = {"send_time": forms.TimeInput(attrs={"type": "time"}, format="%H:%M")}

    def __init__(self, *args, objective: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = MessageTemplate.objects.filter(objective=objective).order_by("channel", "language", "name")
        self.fields["template"].required = False


StepFormSet = inlineformset_factory(Cadence, CadenceStep, form=StepForm, extra=1, can_delete=True)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Policies file (JSON)"))


class WhyForm(forms.Form):
    case = forms.IntegerField(label=_("Case id"), min_value=1)


# --- People and creditors ----------------------------------------------------------------------

class UserForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "role", "team", "language", "is_active"]
        help_texts = {"team": _("Agents only: supervisors lead teams (Teams), admins see everything."),
                      "is_active": _("Inactive users cannot log in; their history stays.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = False


class NewUserForm(UserForm):
    password1 = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("Password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    class Meta(UserForm.Meta):
        fields = [f for f in UserForm.Meta.fields if f != "is_active"]

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class SetPasswordForm(forms.Form):
    password1 = forms.CharField(label=_("New password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    password2 = forms.CharField(label=_("New password again"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("The two passwords differ."))
        return data


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "supervisor", "agents_see_team_cases"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["supervisor"].queryset = User.objects.filter(role=Role.SUPERVISOR, is_active=True)


class CreditorForm(forms.ModelForm):
    class Meta:
        model = Creditor
        fields = ["code", "name", "kind", "currency", "active", "retention_days"]
        help_texts = {"code": _("Short identifier used in imports and the API (letters, digits, hyphens)."),
                      "currency": _("ISO 4217 code, e.g. EUR, USD, MXN.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left empty, the creditor keeps its period (a new one gets the default).
        self.fields["retention_days"].required = False

    def clean_currency(self):
        value = (self.cleaned_data.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError(_("Use a three-letter ISO 4217 code, e.g. EUR."))
        return value

    def clean_retention_days(self):
        value = self.cleaned_data.get("retention_days")
        return value if value is not None else self.instance.retention_days


# --- Data protection -------------------------------------------------------------------------------

class DebtorSearchForm(forms.Form):
    q = forms.CharField(label=_("Debtor"), max_length=200, required=False,
                        help_text=_("Identity document, name or debtor number."))


class LegalHoldForm(forms.Form):
    hold = forms.BooleanField(label=_("Keep this debtor's data (legal hold)"), required=False)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False,
                             help_text=_("A reference such as a court file number, not personal details: it is kept in the audit log."))


class AnonymiseConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("I understand that the personal data of this debtor is replaced for good and cannot be restored."),
    )
