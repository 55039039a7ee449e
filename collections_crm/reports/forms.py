from __future__ import annotations

import datetime as dt

from django import forms
from django.db.models import Q
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from cases.choices import Objective, PromiseStatus
from cases.models import Creditor
from collections_crm.accounts.models import Role, User
from collections_crm.core.dates import add_months, month_start
from contacts.models import ExcuseCategory, Technique

from .metrics import BUCKET_CODES, BUCKET_LABELS, CLOSED
from .selectors import DRILL_KINDS, TECHNIQUE_CUTS, agents_for_user, portfolio_currencies, teams_for_user

MAX_RANGE_DAYS = 731


class FastSelect(forms.Select):
    """A select whose options are written in Python: an admin's filter lists a thousand agents,
    and one template render per option costs a tenth of a second on every dashboard page."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join(
            "", '<option value="{}"{}>{}</option>',
            ((option["value"], " selected" if option["selected"] else "", option["label"])
             for _group, choices, _index in widget["optgroups"] for option in choices),
        )
        return format_html('<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options)


class AgentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.display_name()


class FilterForm(forms.Form):
    """The dashboard's filters. Team and agent choices are only those the user may see, so a
    supervisor cannot ask for another team's figures (an unknown choice is a field error)."""

    creditor = forms.ModelChoiceField(
        label=_("Creditor"), queryset=Creditor.objects.all(), required=False, empty_label=_("All creditors"), widget=FastSelect,
    )
    currency = forms.ChoiceField(label=_("Currency"), required=False, choices=[])
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False, empty_label=_("All my teams"), widget=FastSelect)
    agent = AgentChoiceField(label=_("Agent"), queryset=None, required=False, empty_label=_("All agents"), widget=FastSelect)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    cut = forms.ChoiceField(
        label=_("Techniques by"), required=False,
        choices=[("technique", _("Technique")), ("objective", _("Technique × objective")), ("excuse", _("Technique × excuse")), ("agent", _("Technique × agent"))],
    )

    def __init__(self, *args, user: User, today: dt.date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        currencies = portfolio_currencies()
        if len(currencies) > 1:
            # Money is never added across currencies: one currency at a time.
            self.fields["currency"].choices = [(c, c) for c in currencies]
        else:
            del self.fields["currency"]
        self.fields["team"].queryset = teams_for_user(user=user)
        self.fields["agent"].queryset = agents_for_user(user=user)
        if user.is_crm_admin:
            self.fields["team"].empty_label = _("All teams")
        if user.role == Role.AGENT and not user.is_superuser:
            for name in ("team", "agent"):
                del self.fields[name]
        for field in self.fields.values():
            css = "form-select form-select-sm" if isinstance(field.widget, forms.Select) else "form-control form-control-sm"
            field.widget.attrs["class"] = css

    def clean(self):
        data = super().clean()
        data["date_to"] = data.get("date_to") or self.today
        # Default: this month and the two before it, so month-over-month figures have history.
        data["date_from"] = data.get("date_from") or add_months(month_start(data["date_to"]), -2)
        if data["date_from"] > data["date_to"]:
            self.add_error("date_from", _("The start date must be on or before the end date."))
        elif (data["date_to"] - data["date_from"]).days > MAX_RANGE_DAYS:
            self.add_error("date_from", _("Choose at most two years."))
        data["cut"] = data.get("cut") or "technique"
        if data["cut"] not in TECHNIQUE_CUTS:
            data["cut"] = "technique"
        return data


def _choices(values, labels=None):
    return [("", "")] + [(v, (labels or {}).get(v, v)) for v in values]


class DrillForm(forms.Form):
    """The coordinates of the figure being drilled into."""

    kind = forms.ChoiceField(choices=[(k, k) for k in DRILL_KINDS])
    bucket = forms.ChoiceField(choices=_choices(BUCKET_CODES, BUCKET_LABELS), required=False)
    objective = forms.ChoiceField(choices=[("", "")] + Objective.choices, required=False)
    status = forms.ChoiceField(choices=[("", "")] + PromiseStatus.choices, required=False)
    technique = forms.ModelChoiceField(queryset=Technique.objects.all(), required=False)
    excuse = forms.ModelChoiceField(queryset=ExcuseCategory.objects.all(), required=False)
    right_party = forms.BooleanField(required=False)
    reason = forms.SlugField(max_length=32, required=False)
    month = forms.DateField(required=False)
    to = forms.ChoiceField(choices=_choices([*BUCKET_CODES, CLOSED], BUCKET_LABELS), required=False)
    # "from" is a Python keyword: the objective a case moved from.
    from_objective = forms.ChoiceField(choices=[("", "")] + Objective.choices, required=False)
    to_objective = forms.ChoiceField(choices=[("", "")] + Objective.choices, required=False)

    def __init__(self, data=None, **kwargs):
        if data is not None:
            data = data.copy()
            if data.get("kind") == "moves":
                data["from_objective"], data["to_objective"] = data.get("from", ""), data.get("to", "")
                data["to"] = ""
        super().__init__(data, **kwargs)

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        required = {"technique": ["technique"], "roll": ["month", "bucket"], "moves": ["from_objective", "to_objective"]}.get(kind, [])
        for name in required:
            if not data.get(name):
                self.add_error(name, _("This field is required."))
        if data.get("month"):
            data["month"] = month_start(data["month"])
        params = {k: v for k, v in data.items() if v not in (None, "", False)}
        if kind == "moves":
            params["from"], params["to"] = params.pop("from_objective", ""), params.pop("to_objective", "")
        if params.get("technique"):
            params["technique"] = params["technique"].pk
        if params.get("excuse"):
            params["excuse"] = params["excuse"].pk
        data["params"] = params
        return data


class ReassignForm(forms.Form):
    agent = AgentChoiceField(label=_("Reassign to"), queryset=None, empty_label=_("Choose an agent"))
    case_ids = forms.TypedMultipleChoiceField(coerce=int, required=False)
    all_matching = forms.BooleanField(required=False, label=_("All cases matching the filter"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents_for_user(user=user)
        self.fields["case_ids"].choices = [(v, v) for v in (self.data.getlist("case_ids") if hasattr(self.data, "getlist") else [])]

    def clean(self):
        data = super().clean()
        if not data.get("all_matching") and not data.get("case_ids"):
            self.add_error("case_ids", _("Select at least one case."))
        return data


class TeamPriorityForm(forms.Form):
    focus_buckets = forms.MultipleChoiceField(
        label=_("Focus on aging buckets"), choices=[(b, BUCKET_LABELS[b]) for b in BUCKET_CODES], required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    focus_objectives = forms.MultipleChoiceField(label=_("Focus on objectives"), choices=Objective.choices, required=False, widget=forms.CheckboxSelectMultiple)
    note = forms.CharField(label=_("Note for the team"), max_length=300, required=False)


class TeamMemberForm(forms.Form):
    member = AgentChoiceField(label=_("Agent"), queryset=None)
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False, empty_label=_("No team"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        members = User.objects.filter(role=Role.AGENT, is_active=True)
        if not user.is_crm_admin:
            members = members.filter(Q(team__supervisor=user) | Q(team__isnull=True))
            self.fields["team"].required = True
        self.fields["member"].queryset = members
        self.fields["team"].queryset = teams_for_user(user=user)
