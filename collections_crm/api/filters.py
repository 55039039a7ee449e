from __future__ import annotations

import datetime as dt

import django_filters as filters
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from cases.choices import CaseStatus
from cases.models import Case, Creditor, Payment, PaymentPlan, PromiseToPay
from contacts.models import ContactAttempt, FollowUp, MessageTemplate, OutboundMessage
from debtors.models import Debtor

_BOOLEAN_WORDS = {"true", "false", "True", "False", "1", "0"}


class _UtcIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        # PostgreSQL takes offsets up to 15:59 only; ISO 8601 (and Python) allow up to 23:59.
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError(_("This date and time is out of range."), code="invalid") from None


class UtcIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = _UtcIsoDateTimeField


class StrictFilterSet(filters.FilterSet):
    """A filter given with no value, or a yes/no filter with a word that is neither, is a 400
    (django-filter would ignore it and list everything, which the schema does not promise).
    Text filters may be empty: the schema lets a string be empty."""

    def is_valid(self) -> bool:
        valid = super().is_valid()
        for name, filter_ in self.filters.items():
            if name not in self.data or isinstance(filter_, filters.CharFilter):
                continue
            values = self.data.getlist(name) if hasattr(self.data, "getlist") else [self.data[name]]
            if any(value == "" for value in values):
                self.form.add_error(name, _("Give a value, or leave this filter out."))
            elif isinstance(filter_, filters.BooleanFilter) and any(value not in _BOOLEAN_WORDS for value in values):
                self.form.add_error(name, _("Use true or false."))
        return valid and not self.form.errors


class CreditorFilter(StrictFilterSet):
    class Meta:
        model = Creditor
        fields = ["code", "active", "kind"]


class DebtorFilter(StrictFilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Debtor
        fields = ["name", "document_type", "document_number", "kind", "country"]


class CaseFilter(StrictFilterSet):
    status = filters.MultipleChoiceFilter(choices=CaseStatus.choices)
    balance_min = filters.NumberFilter(field_name="balance", lookup_expr="gte")
    balance_max = filters.NumberFilter(field_name="balance", lookup_expr="lte")
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte")
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte")
    next_action_before = UtcIsoDateTimeFilter(field_name="next_action_at", lookup_expr="lte")

    class Meta:
        model = Case
        fields = ["creditor", "debtor", "reference", "status", "objective", "assigned_agent"]


class ContactAttemptFilter(StrictFilterSet):
    occurred_after = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lte")

    class Meta:
        model = ContactAttempt
        fields = ["case", "channel", "outcome", "objective", "agent"]


class PromiseFilter(StrictFilterSet):
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = PromiseToPay
        fields = ["case", "status"]


class PaymentPlanFilter(StrictFilterSet):
    class Meta:
        model = PaymentPlan
        fields = ["case", "status"]


class PaymentFilter(StrictFilterSet):
    received_after = filters.DateFilter(field_name="received_on", lookup_expr="gte")
    received_before = filters.DateFilter(field_name="received_on", lookup_expr="lte")

    class Meta:
        model = Payment
        fields = ["case", "method", "reference"]


class TemplateFilter(StrictFilterSet):
    class Meta:
        model = MessageTemplate
        fields = ["objective", "channel", "language", "active"]


class FollowUpFilter(StrictFilterSet):
    due_after = UtcIsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = UtcIsoDateTimeFilter(field_name="due_at", lookup_expr="lte")

    class Meta:
        model = FollowUp
        fields = ["case", "status", "kind", "channel", "objective"]


class OutboundMessageFilter(StrictFilterSet):
    class Meta:
        model = OutboundMessage
        fields = ["case", "status", "channel"]
