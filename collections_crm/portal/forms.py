"""The portal's forms: short, labelled, with the keyboard each field needs on a phone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.choices import BarrierKind, Channel, PaymentMethod, PlanFrequency
from collections_crm.selfservice.services import DOCUMENT_KINDS
from debtors.models import ContactTime


class PortalForm(forms.Form):
    """Bootstrap classes and the accessible wiring (help and error text named by the field)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, (forms.RadioSelect, forms.CheckboxSelectMultiple, forms.HiddenInput)):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()
            if field.required:
                widget.attrs.setdefault("required", True)
            if field.help_text:
                widget.attrs["aria-describedby"] = f"id_{name}_helptext"

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields and not isinstance(self.fields[name].widget, forms.HiddenInput):
                attrs = self.fields[name].widget.attrs
                attrs["aria-invalid"] = "true"
                attrs["class"] = f"{attrs.get('class', '')} is-invalid".strip()
                attrs["aria-describedby"] = f"{attrs.get('aria-describedby', '')} id_{name}_error".strip()


class CodeForm(PortalForm):
    code = forms.CharField(label=_("Your personal code"), max_length=20,
                           help_text=_("It is printed on our letter, e.g. 7KQ2M-X9D4P."),
                           widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters",
                                                         "spellcheck": "false", "autofocus": True}))


class IdentityForm(PortalForm):
    document_end = forms.CharField(
        label=_("Last 4 characters of your ID document"), min_length=4, max_length=4,
        help_text=_("DNI, NIE, passport or tax number, as on our records: e.g. 432B."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false",
                                      "autofocus": True}))
    postal_code = forms.CharField(label=_("Postal code"), max_length=12, required=False,
                                  widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}))
    birth_date = forms.DateField(label=_("Or your date of birth"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"))

    def clean(self):
        data = super().clean() or {}
        if not data.get("postal_code") and not data.get("birth_date"):
            raise forms.ValidationError(_("Give your postal code or your date of birth."))
        return data


class AmountForm(PortalForm):
    amount = forms.DecimalField(label=_("Amount to pay"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"),
                                widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}))
    method = forms.ChoiceField(label=_("Pay with"), required=False, widget=forms.RadioSelect)

    def __init__(self, *args, methods: tuple[str, ...] = ("card",), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(PaymentMethod.choices)
        field = self.fields["method"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(m, labels.get(m, m)) for m in methods]
        field.initial = methods[0]
        if len(methods) < 2:
            del self.fields["method"]  # one way only: nothing to choose


class PromiseForm(PortalForm):
    amount = forms.DecimalField(label=_("Amount"), max_digits=14, decimal_places=2, min_value=Decimal("0.01"),
                                widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.01"}))
    due_date = forms.DateField(label=_("I will pay by"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))


class PlanChoiceForm(PortalForm):
    option = forms.CharField(widget=forms.HiddenInput)

    def clean_option(self) -> tuple[int, str]:
        count, _sep, frequency = self.cleaned_data["option"].partition("-")
        if not count.isdigit() or frequency not in PlanFrequency.values:
            raise forms.ValidationError(_("Choose one of the plans."))
        return int(count), frequency


class PlanProposalForm(PortalForm):
    count = forms.IntegerField(label=_("Number of instalments"), min_value=1, max_value=60,
                               widget=forms.NumberInput(attrs={"inputmode": "numeric"}))
    frequency = forms.ChoiceField(label=_("How often"), choices=PlanFrequency.choices, initial=PlanFrequency.MONTHLY)


class DocumentRequestForm(PortalForm):
    kind = forms.ChoiceField(label=_("What do you need?"), choices=[(k, BarrierKind(k).label) for k in DOCUMENT_KINDS],
                             widget=forms.RadioSelect)
    words = forms.CharField(label=_("Anything you want to tell us"), required=False, max_length=300,
                            widget=forms.Textarea(attrs={"rows": 3, "maxlength": 300}))


class DisputeForm(PortalForm):
    reason = forms.CharField(label=_("Why do you dispute this debt?"), min_length=10, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 5, "maxlength": 2000}))
    upload = forms.FileField(label=_("A document that supports it (optional)"), required=False,
                             help_text=_("PDF, JPEG or PNG."),
                             widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.jpg,.jpeg,.png"}))


class PreferencesForm(PortalForm):
    opt_out = forms.MultipleChoiceField(
        label=_("Stop these messages"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(Channel.EMAIL, _("E-mails")), (Channel.SMS, _("Text messages (SMS and WhatsApp)"))])
    preferred_time = forms.ChoiceField(label=_("Call me preferably"), choices=ContactTime.choices, required=False,
                                       widget=forms.RadioSelect)
    callback_at = forms.DateTimeField(
        label=_("Call me back at"), required=False, help_text=_("In your local time."),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))

    def __init__(self, *args, zone: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zoneinfo.ZoneInfo(zone)

    def clean_callback_at(self) -> dt.datetime | None:
        value = self.cleaned_data.get("callback_at")
        if value is None:
            return None
        # Typed in the debtor's own zone, whatever zone the server runs in.
        return timezone.make_aware(value.replace(tzinfo=None), self.zone)
