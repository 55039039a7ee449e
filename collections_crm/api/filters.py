from __future__ import annotations

import django_filters as filters

from cases.choices import CaseStatus
from cases.models import Case, Creditor, Payment, PaymentPlan, PromiseToPay
from contacts.models import ContactAttempt, FollowUp, MessageTemplate, OutboundMessage
from debtors.models import Debtor


class CreditorFilter(filters.FilterSet):
    class Meta:
        model = Creditor
        fields = ["code", "active", "kind"]


class DebtorFilter(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Debtor
        fields = ["name", "document_type", "document_number", "kind", "country"]


class CaseFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=CaseStatus.choices)
    balance_min = filters.NumberFilter(field_name="balance", lookup_expr="gte")
    balance_max = filters.NumberFilter(field_name="balance", lookup_expr="lte")
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte")
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte")
    next_action_before = filters.IsoDateTimeFilter(field_name="next_action_at", lookup_expr="lte")

    class Meta:
        model = Case
        fields = ["creditor", "debtor", "reference", "status", "objective", "assigned_agent"]


class ContactAttemptFilter(filters.FilterSet):
    occurred_after = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lte")

    class Meta:
        model = ContactAttempt
        fields = ["case", "channel", "outcome", "objective", "agent"]


class PromiseFilter(filters.FilterSet):
    due_after = filters.DateFilter(field_name="due_date", lookup_expr="gte")
    due_before = filters.DateFilter(field_name="due_date", lookup_expr="lte")

    class Meta:
        model = PromiseToPay
        fields = ["case", "status"]


class PaymentPlanFilter(filters.FilterSet):
    class Meta:
        model = PaymentPlan
        fields = ["case", "status"]


class PaymentFilter(filters.FilterSet):
    received_after = filters.DateFilter(field_name="received_on", lookup_expr="gte")
    received_before = filters.DateFilter(field_name="received_on", lookup_expr="lte")

    class Meta:
        model = Payment
        fields = ["case", "method", "reference"]


class TemplateFilter(filters.FilterSet):
    class Meta:
        model = MessageTemplate
        fields = ["objective", "channel", "language", "active"]


class FollowUpFilter(filters.FilterSet):
    due_after = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gte")
    due_before = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lte")

    class Meta:
        model = FollowUp
        fields = ["case", "status", "kind", "channel", "objective"]


class OutboundMessageFilter(filters.FilterSet):
    class Meta:
        model = OutboundMessage
        fields = ["case", "status", "channel"]
