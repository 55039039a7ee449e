"""Output serializers describe records; input serializers validate one operation's arguments
and hand them to a service."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.choices import CaseStatus, Channel, Direction, Objective, Outcome, PaymentMethod, StatementKind
from cases.models import MONEY, Case, Creditor, Instalment, Payment, PaymentPlan, PromiseToPay
from cases.reasons import reason_text, result_text
from collections_crm.accounts.models import Role, Team, User
from collections_crm.imports.models import AssignMode, ImportJob, ImportKind, ImportRowError
from contacts.models import ContactAttempt, ExcuseCategory, FollowUp, MessageTemplate, OutboundMessage, Technique
from contacts.selectors import excuse_name
from debtors.models import ContactPoint, ContactPointKind, Debtor, DebtorKind, DocumentType

from . import selectors

# --- Output ---------------------------------------------------------------------------------


class CreditorSerializer(serializers.ModelSerializer):
    class Meta:
        model = Creditor
        fields = ["id", "code", "name", "kind", "currency", "active", "created_at"]


class ContactPointSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactPoint
        fields = ["id", "kind", "value", "label", "person_name", "is_primary", "verified", "consent", "opted_out",
                  "do_not_contact", "created_at"]


class DebtorSerializer(serializers.ModelSerializer):
    contact_points = ContactPointSerializer(many=True, read_only=True)

    class Meta:
        model = Debtor
        fields = ["id", "kind", "name", "document_type", "document_number", "country", "timezone", "language", "notes",
                  "postal_code", "birth_date", "do_not_contact", "cease_communication", "attorney_represented", "deceased", "bankruptcy",
                  "contact_points", "created_at", "updated_at"]


class ReasonText(serializers.CharField):
    """A stored reason (cases.reasons) in the request's language (Accept-Language)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value) -> str:
        return reason_text(value, excuse_name=excuse_name)


@extend_schema_field({"type": "object", "additionalProperties": True,
                      "description": 'A reason code and its parameters ({"code": ..., "params": {...}}) or a person\'s '
                                     'words ({"text": ...}); empty when none is recorded.'})
class ReasonData(serializers.JSONField):
    """The same reason as data: {"code": ..., "params": {...}} from the engine, {"text": ...} from a person."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        # Always an object, as the schema says (a bare string stored by hand is a person's words).
        return {"text": value} if isinstance(value, str) else (value or {})


class CaseSerializer(serializers.ModelSerializer):
    objective_reason = ReasonText(help_text=_("Why this objective, in the request's language."))
    objective_reason_data = ReasonData(source="objective_reason")
    next_action_note = ReasonText(help_text=_("The next step, in the request's language."))
    next_action_note_data = ReasonData(source="next_action_note")

    class Meta:
        model = Case
        fields = ["id", "reference", "creditor", "debtor", "original_amount", "fees", "balance", "currency", "due_date",
                  "placed_at", "status", "objective", "objective_reason", "objective_reason_data", "paused_at", "assigned_agent",
                  "next_action_at", "next_action_note", "next_action_note_data", "last_contact_at", "last_outcome", "closed_at",
                  "version", "created_at", "updated_at"]


class ContactAttemptSerializer(serializers.ModelSerializer):
    techniques = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    excuse_category = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = ContactAttempt
        fields = ["id", "case", "contact_point", "channel", "direction", "agent", "occurred_at", "duration_seconds",
                  "objective", "techniques", "outcome", "excuse_category", "statement_kind", "notes", "next_step",
                  "next_step_at", "created_at"]


class PromiseSerializer(serializers.ModelSerializer):
    class Meta:
        model = PromiseToPay
        fields = ["id", "case", "amount", "due_date", "method", "status", "amount_paid", "created_by", "created_at", "resolved_at"]


class InstalmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instalment
        fields = ["number", "due_date", "amount", "amount_paid", "status"]


class PaymentPlanSerializer(serializers.ModelSerializer):
    instalments = InstalmentSerializer(many=True, read_only=True)

    class Meta:
        model = PaymentPlan
        fields = ["id", "case", "status", "total_amount", "discount_amount", "instalment_count", "frequency",
                  "first_due_date", "created_by", "approved_by", "created_at", "instalments"]


class PaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payment
        fields = ["id", "case", "amount", "received_on", "method", "reference", "posted_by", "created_at"]


class TemplateSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="current_version.number", default=None, read_only=True, allow_null=True)
    subject = serializers.CharField(source="current_version.subject", default="", read_only=True)
    body = serializers.CharField(source="current_version.body", default="", read_only=True)

    class Meta:
        model = MessageTemplate
        fields = ["id", "name", "objective", "channel", "language", "active", "version", "subject", "body"]


LANGUAGES = Debtor._meta.get_field("language").choices

class TranslatedText(serializers.CharField):
    """Engine words stored untranslated (a step's seeded instructions, a result), in the request's
    language; a contact-policy code in words; a person's own text as written."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value) -> str:
        return result_text(value)


class FollowUpSerializer(serializers.ModelSerializer):
    reason = ReasonText()
    reason_data = ReasonData(source="reason")
    instructions = TranslatedText()
    result = TranslatedText()

    class Meta:
        model = FollowUp
        fields = ["id", "case", "objective", "purpose", "step", "channel", "kind", "due_at", "status", "reason", "reason_data", "instructions",
                  "is_consequence", "policy_reason", "created_at", "completed_at", "result"]


class OutboundMessageSerializer(serializers.ModelSerializer):
    template_version = serializers.IntegerField(source="template_version.number", read_only=True)

    class Meta:
        model = OutboundMessage
        fields = ["id", "case", "followup", "channel", "objective", "recipient", "template_version", "language", "subject", "body",
                  "status", "not_before", "attempts", "error", "created_at", "sent_at"]


# --- Input ----------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.INT)
class _ScopedPk(serializers.PrimaryKeyRelatedField):
    """A primary key looked up only among the records the caller may use: anything else is
    reported exactly like a record that does not exist. ``selector`` takes the caller as the
    views give it in the serializer context (``user`` and ``creditor_id``, see ApiMixin.caller)."""

    def __init__(self, selector, **kwargs):
        self.selector = selector
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.selector(**self.context["caller"])


def _creditors(*, user: User, creditor_id: int | None) -> QuerySet[Creditor]:
    return selectors.creditors_for(creditor_id=creditor_id)


def _debtors(*, user: User, creditor_id: int | None) -> QuerySet[Debtor]:
    return selectors.debtors_for(user=user, creditor_id=creditor_id)


def _writable_cases(*, user: User, creditor_id: int | None) -> QuerySet[Case]:
    return selectors.cases_for(user=user, creditor_id=creditor_id, for_write=True)


def _money(**kwargs):
    return serializers.DecimalField(max_digits=MONEY["max_digits"], decimal_places=MONEY["decimal_places"], **kwargs)


class ContactPointIn(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ContactPointKind.choices)
    value = serializers.CharField(max_length=300)
    label = serializers.CharField(max_length=60, required=False, allow_blank=True)
    person_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    is_primary = serializers.BooleanField(required=False)
    verified = serializers.BooleanField(required=False)
    consent = serializers.BooleanField(required=False)


def _not_in_the_future(value):
    if value is not None and value > timezone.localdate():
        raise serializers.ValidationError(_("A date of birth cannot be in the future."))


class DebtorIn(serializers.Serializer):
    document_type = serializers.ChoiceField(choices=DocumentType.choices)
    document_number = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=DebtorKind.choices, required=False)
    country = serializers.CharField(max_length=2, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    postal_code = serializers.CharField(max_length=12, required=False, allow_blank=True,
                                        help_text=_("An answer of the self-service portal's identity check."))
    birth_date = serializers.DateField(required=False, allow_null=True, validators=[_not_in_the_future],
                                       help_text=_("An answer of the self-service portal's identity check."))
    contact_points = ContactPointIn(many=True, required=False)


class DebtorUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    kind = serializers.ChoiceField(choices=DebtorKind.choices, required=False)
    country = serializers.CharField(max_length=2, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    language = serializers.ChoiceField(choices=LANGUAGES, required=False)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    postal_code = serializers.CharField(max_length=12, required=False, allow_blank=True)
    birth_date = serializers.DateField(required=False, allow_null=True, validators=[_not_in_the_future])
    do_not_contact = serializers.BooleanField(required=False)
    cease_communication = serializers.BooleanField(required=False)
    attorney_represented = serializers.BooleanField(required=False)
    deceased = serializers.BooleanField(required=False)
    bankruptcy = serializers.BooleanField(required=False)


class CaseCreateIn(serializers.Serializer):
    creditor = _ScopedPk(_creditors)
    debtor = DebtorIn(required=False, help_text=_("The debtor's identity; created if no debtor has this document."))
    debtor_id = _ScopedPk(_debtors, required=False, help_text=_("Or an existing debtor you may see."))
    reference = serializers.CharField(max_length=64)
    original_amount = _money(min_value=Decimal("0.01"))
    fees = _money(min_value=Decimal("0"), required=False)
    balance = _money(min_value=Decimal("0"), required=False)
    currency = serializers.CharField(min_length=3, max_length=3, required=False)
    due_date = serializers.DateField()
    placed_at = serializers.DateField(required=False)
    assigned_agent = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(role=Role.AGENT, is_active=True), required=False, allow_null=True
    )

    def validate(self, attrs):
        if ("debtor" in attrs) == ("debtor_id" in attrs):
            raise serializers.ValidationError({"debtor": _("Give either the debtor's identity or debtor_id.")})
        return attrs


class CaseUpdateIn(serializers.Serializer):
    objective = serializers.ChoiceField(choices=Objective.choices, required=False)
    objective_reason = serializers.CharField(max_length=300, required=False, allow_blank=True)
    next_action_at = serializers.DateTimeField(required=False, allow_null=True)
    next_action_note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class PlanCancelIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class CaseStatusIn(serializers.Serializer):
    status = serializers.ChoiceField(choices=CaseStatus.choices)


class ContactAttemptIn(serializers.Serializer):
    case = _ScopedPk(_writable_cases)
    channel = serializers.ChoiceField(choices=Channel.outreach_choices())
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    objective = serializers.ChoiceField(choices=Objective.choices, required=False)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    contact_point = serializers.PrimaryKeyRelatedField(queryset=ContactPoint.objects.all(), required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(required=False)
    duration_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False)
    techniques = serializers.SlugRelatedField(slug_field="code", many=True, queryset=Technique.objects.filter(active=True), required=False)
    excuse_category = serializers.SlugRelatedField(slug_field="code", queryset=ExcuseCategory.objects.filter(active=True), required=False, allow_null=True)
    statement_kind = serializers.ChoiceField(choices=StatementKind.choices, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=4000, required=False, allow_blank=True)
    next_step = serializers.CharField(max_length=300, required=False, allow_blank=True)
    next_step_at = serializers.DateTimeField(required=False, allow_null=True)


class PromiseIn(serializers.Serializer):
    case = _ScopedPk(_writable_cases)
    amount = _money(min_value=Decimal("0.01"))
    due_date = serializers.DateField()
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)


class PaymentIn(serializers.Serializer):
    case = _ScopedPk(_writable_cases)
    amount = _money(min_value=Decimal("0.01"))
    received_on = serializers.DateField()
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True)


# --- Imports --------------------------------------------------------------------------------


class ImportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportJob
        fields = ["id", "creditor", "kind", "original_name", "size", "file_format", "encoding", "delimiter", "decimal_comma",
                  "day_first", "headers", "mapping", "all_or_nothing", "create_missing_creditors", "assign_mode", "assign_agent",
                  "assign_team", "source", "status", "progress", "rows_total", "rows_created", "rows_updated", "rows_unchanged",
                  "rows_rejected", "rows_warned", "failure", "created_at", "started_at", "finished_at"]


class ImportRowErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportRowError
        fields = ["severity", "line", "column", "value", "message"]


class _ImportOptions(serializers.Serializer):
    """How an import treats creditors it does not know and whom it gives the new cases."""

    create_missing_creditors = serializers.BooleanField(
        required=False, help_text=_("With a creditor column: create a creditor no code or name matches (else its rows are rejected)."))
    assign_mode = serializers.ChoiceField(choices=AssignMode.choices, required=False, allow_blank=True,
                                          help_text=_("An agent column in the file wins over this, row by row."))
    assign_agent = serializers.PrimaryKeyRelatedField(queryset=User.objects.filter(role=Role.AGENT, is_active=True), required=False,
                                                      allow_null=True)
    assign_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)


class _ColumnMapping(serializers.JSONField):
    """An import's mapping: an object of target field → column header."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise serializers.ValidationError(_("Give an object of column names."))
        return value


class ImportStartIn(_ImportOptions):
    mapping = _ColumnMapping(required=False, help_text=_("{target field: column header}; the job's current mapping if left out."))
    day_first = serializers.BooleanField(required=False)
    decimal_comma = serializers.BooleanField(required=False)
    all_or_nothing = serializers.BooleanField(required=False)


class ImportPreviewProblem(serializers.Serializer):
    column = serializers.CharField()
    value = serializers.CharField()
    message = serializers.CharField()


class ImportPreviewRow(serializers.Serializer):
    line = serializers.IntegerField()
    ok = serializers.BooleanField()
    cells = serializers.ListField(child=serializers.CharField(allow_blank=True))
    errors = ImportPreviewProblem(many=True)
    warnings = ImportPreviewProblem(many=True, help_text=_("Values the row is imported without (kept as unusable)."))


class ImportPreviewSerializer(serializers.Serializer):
    headers = serializers.ListField(child=serializers.CharField(allow_blank=True))
    mapping = serializers.DictField(child=serializers.CharField())
    rows = ImportPreviewRow(many=True)


class ImportJobIn(_ImportOptions):
    creditor = _ScopedPk(_creditors)
    kind = serializers.ChoiceField(choices=ImportKind.choices)
    file = serializers.FileField()
    mapping = _ColumnMapping(required=False, help_text=_("{target field: column header}; the saved or suggested mapping if left out."))
    all_or_nothing = serializers.BooleanField(required=False, default=False)
    day_first = serializers.BooleanField(required=False, default=True)
    start = serializers.BooleanField(required=False, default=True, help_text=_("Start at once (otherwise only inspect the file)."))
