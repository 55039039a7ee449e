"""Forms of the agent workspace. Each carries the case version it was opened on, so a save made
after someone else changed the case is refused (StaleVersionError) instead of overwriting."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from cases.choices import (
    AGING_BUCKETS,
    BarrierKind,
    CaseStatus,
    Channel,
    Direction,
    Objective,
    Outcome,
    PaymentMethod,
    PlanFrequency,
    StatementKind,
)
from cases.models import MONEY, Creditor
from cases.services import PLAN_MAX_INSTALMENTS, plan_schedule
from collections_crm.accounts.models import Role, User
from contacts.models import ExcuseCategory, Technique
from debtors.models import validate_timezone

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def money_field(label, **kwargs) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, max_digits=MONEY["max_digits"], decimal_places=MONEY["decimal_places"], min_value=Decimal("0.01"),
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}), **kwargs,
    )


class QueueFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=120,
                        widget=forms.TextInput(attrs={"placeholder": _("Name, document, reference, phone or e-mail"), "type": "search"}))
    objective = forms.ChoiceField(label=_("Objective"), required=False, choices=[("", _("Any objective")), *Objective.choices])
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("Open cases")), *CaseStatus.choices])
    aging = forms.ChoiceField(label=_("Days past due"), required=False,
                              choices=[("", _("Any age")), *[(code, code) for code, _lo, _hi in AGING_BUCKETS]])
    creditor = forms.ModelChoiceField(label=_("Creditor"), required=False, queryset=Creditor.objects.filter(active=True),
                                      empty_label=_("Any creditor"))
    portal_new = forms.BooleanField(label=_("Portal activity since my last look"), required=False)
    sort = forms.CharField(required=False, widget=forms.HiddenInput)
    scope = forms.ChoiceField(required=False, choices=[("", _("My cases")), ("team", _("My team's cases"))], widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("objective", "status", "aging", "creditor"):
            self.fields[name].widget.attrs["class"] = "form-select form-select-sm"

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        data = dict(self.cleaned_data)
        data["creditor"] = data["creditor"].pk if data.get("creditor") else None
        return data


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, case, **kwargs):
        self.case = case
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("version", case.version)
        super().__init__(*args, **kwargs)


class InteractionForm(VersionedForm):
    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.outreach_choices(), initial=Channel.PHONE)
    direction = forms.ChoiceField(label=_("Direction"), choices=Direction.choices, initial=Direction.OUTBOUND)
    contact_point = forms.ModelChoiceField(label=_("Contact point"), queryset=None, required=False, empty_label=_("—"))
    objective = forms.ChoiceField(label=_("Objective"), choices=Objective.choices)
    techniques = forms.ModelMultipleChoiceField(label=_("Techniques used"), queryset=None, required=False,
                                                widget=forms.CheckboxSelectMultiple)
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)
    excuse_category = forms.ModelChoiceField(label=_("What the debtor said"), queryset=None, required=False,
                                             empty_label=_("—"))
    statement_kind = forms.ChoiceField(label=_("Argument or excuse"), choices=StatementKind.choices, required=False)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=settings.CRM_NOTES_MAX_LENGTH,
                            widget=forms.Textarea(attrs={"rows": 3}))
    next_step = forms.CharField(label=_("Next step"), required=False, max_length=300)
    next_step_at = forms.DateTimeField(label=_("Next step on"), required=False, widget=DATETIME)

    def __init__(self, *args, case, points=None, techniques=None, excuses=None, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.fields["objective"].initial = case.objective
        self.fields["contact_point"].queryset = points if points is not None else case.debtor.contact_points.all()
        self.fields["techniques"].queryset = techniques if techniques is not None else Technique.objects.filter(active=True)
        self.fields["excuse_category"].queryset = excuses if excuses is not None else ExcuseCategory.objects.filter(active=True)

    def clean(self):
        data = super().clean()
        if data.get("excuse_category") and not data.get("statement_kind"):
            self.add_error("statement_kind", _("Say whether it was an argument or an excuse."))
        return data


class PromiseForm(VersionedForm):
    amount = money_field(_("Amount"))
    due_date = forms.DateField(label=_("Promised date"), widget=DATE)
    method = forms.ChoiceField(label=_("Payment channel"), choices=PaymentMethod.choices, initial=PaymentMethod.TRANSFER)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.fields["amount"].initial = case.balance


class PaymentForm(VersionedForm):
    amount = money_field(_("Amount"))
    received_on = forms.DateField(label=_("Received on"), widget=DATE)
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices, initial=PaymentMethod.TRANSFER)
    reference = forms.CharField(label=_("Payment reference"), required=False, max_length=100)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.fields["received_on"].initial = timezone.localdate()


class PlanForm(VersionedForm):
    """The calculator: total, number of instalments, frequency and first date give a schedule
    (shown before saving). The agent may adjust the amounts; they must still add up."""

    total_amount = money_field(_("Total"))
    instalment_count = forms.IntegerField(label=_("Instalments"), min_value=1, max_value=PLAN_MAX_INSTALMENTS, initial=3)
    frequency = forms.ChoiceField(label=_("Frequency"), choices=PlanFrequency.choices, initial=PlanFrequency.MONTHLY)
    first_date = forms.DateField(label=_("First instalment on"), widget=DATE)
    agreed = forms.BooleanField(label=_("The debtor agreed (otherwise it is only proposed)"), required=False, initial=True)

    def __init__(self, *args, case, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.fields["total_amount"].initial = case.balance
        self.fields["first_date"].initial = timezone.localdate() + dt.timedelta(days=7)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if data["first_date"] < timezone.localdate():
            self.add_error("first_date", _("The first instalment cannot be dated in the past."))
            return data
        schedule = plan_schedule(total=data["total_amount"], count=data["instalment_count"],
                                 frequency=data["frequency"], first_date=data["first_date"])
        # Amounts the agent adjusted in the preview (amount_1 … amount_n) replace the computed ones.
        rows = []
        for number, due, amount in schedule:
            raw = (self.data.get(f"amount_{number}") or "").strip()
            if raw:
                try:
                    amount = Decimal(raw.replace(",", "."))
                except InvalidOperation:
                    self.add_error(None, _("Instalment %(n)d is not an amount.") % {"n": number})
                    return data
            rows.append((number, due, amount))
        data["schedule"] = rows
        return data

    @property
    def instalments(self) -> list[tuple[dt.date, Decimal]]:
        return [(due, amount) for _n, due, amount in self.cleaned_data["schedule"]]


class BarrierForm(VersionedForm):
    kind = forms.ChoiceField(label=_("What is missing"), choices=BarrierKind.choices)
    description = forms.CharField(label=_("Details"), required=False, max_length=300)


class BarrierRemoveForm(VersionedForm):
    pass


class FollowupForm(VersionedForm):
    at = forms.DateTimeField(label=_("When"), widget=DATETIME)
    note = forms.CharField(label=_("What to do"), required=False, max_length=300)


class RestrictForm(VersionedForm):
    DISPUTE = "dispute"
    ACTIONS = [
        (DISPUTE, _("Debtor disputes the debt (pause collection)")),
        ("cease", _("Debtor asked us to stop communicating")),
        ("do_not_contact", _("Do not contact this debtor")),
        ("point_do_not_contact", _("Do not use one contact point")),
    ]
    action = forms.ChoiceField(label=_("Flag"), choices=ACTIONS, widget=forms.RadioSelect)
    contact_point = forms.ModelChoiceField(label=_("Contact point"), queryset=None, required=False, empty_label=_("—"))

    def __init__(self, *args, case, points=None, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        self.fields["contact_point"].queryset = points if points is not None else case.debtor.contact_points.all()

    def clean(self):
        data = super().clean()
        if data.get("action") == "point_do_not_contact" and not data.get("contact_point"):
            self.add_error("contact_point", _("Choose the contact point."))
        return data


@functools.cache
def _all_zone_options() -> str:
    # Rendered once: through the Select widget's option templates, the ~600 zones cost about
    # 16 ms on every case page.
    return format_html_join("", '<option value="{}">{}</option>', ((z, z) for z in sorted(zoneinfo.available_timezones())))


class DebtorTimezoneForm(forms.Form):
    """Confirm where the debtor is: one of their candidate zones, or any other zone. The
    template renders the select (``candidates``, then ``all_zone_options``)."""

    timezone = forms.CharField(label=_("Time zone"), max_length=64)

    def __init__(self, *args, debtor, **kwargs):
        kwargs.setdefault("initial", {"timezone": debtor.timezone})
        super().__init__(*args, **kwargs)
        self.candidates = debtor.candidate_zones
        self.all_zone_options = _all_zone_options()

    def clean_timezone(self) -> str:
        zone = self.cleaned_data["timezone"]
        validate_timezone(zone)
        return zone


class DebtorIdentityForm(forms.Form):
    """The debtor's answers to the portal's identity check (with the end of their document)."""

    postal_code = forms.CharField(label=_("Postal code"), max_length=12, required=False)
    birth_date = forms.DateField(label=_("Date of birth"), required=False, widget=DATE)
    stamp = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, debtor, **kwargs):
        kwargs.setdefault("initial", {"postal_code": debtor.postal_code, "birth_date": debtor.birth_date,
                                      "stamp": debtor.updated_at.isoformat() if debtor.updated_at else ""})
        kwargs.setdefault("prefix", "identity")
        super().__init__(*args, **kwargs)

    def clean_birth_date(self):
        day = self.cleaned_data["birth_date"]
        if day is not None and day > timezone.localdate():
            raise forms.ValidationError(_("A date of birth cannot be in the future."))
        return day

    def expected_updated_at(self) -> dt.datetime | None:
        stamp = self.cleaned_data.get("stamp") or ""
        try:
            return dt.datetime.fromisoformat(stamp) if stamp else None
        except ValueError:
            return None


class ReassignForm(VersionedForm):
    agent = forms.ModelChoiceField(label=_("Assign to"), queryset=User.objects.none(), empty_label=_("Unassigned"),
                                   required=False)

    def __init__(self, *args, case, user, **kwargs):
        super().__init__(*args, case=case, **kwargs)
        agents = User.objects.filter(role=Role.AGENT, is_active=True).select_related("team")
        if not user.is_crm_admin:
            agents = agents.filter(team__supervisor=user)
        self.fields["agent"].queryset = agents.order_by("first_name", "last_name", "username")
        self.fields["agent"].label_from_instance = lambda u: f"{u.display_name()} · {u.team or '—'}"
        self.fields["agent"].initial = case.assigned_agent_id
