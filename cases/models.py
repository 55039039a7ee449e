from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from collections_crm.core.constraints import ConstraintFieldsMixin
from debtors.retention import DEFAULT_RETENTION_DAYS

from .choices import (
    BarrierKind,
    BarrierStatus,
    CaseStatus,
    InstalmentStatus,
    Objective,
    PaymentMethod,
    PlanFrequency,
    PlanStatus,
    PromiseStatus,
    aging_bucket,
)


class MoneyFieldArgs(TypedDict):
    max_digits: int
    decimal_places: int


# A TypedDict, not a plain dict, so that `**MONEY` type-checks against DecimalField's keywords.
MONEY: MoneyFieldArgs = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


class CreditorKind(models.TextChoices):
    OWN = "own", _("Own portfolio")
    CLIENT = "client", _("Agency client")


class Creditor(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=CreditorKind.choices, default=CreditorKind.CLIENT)
    currency = models.CharField(_("default currency"), max_length=3, default="EUR")
    active = models.BooleanField(_("active"), default=True)
    # GDPR storage limitation: how long a debtor's personal data is kept after their last case
    # with this creditor closed (debtors/retention.py).
    retention_days = models.PositiveIntegerField(
        _("retention (days)"), default=DEFAULT_RETENTION_DAYS, db_default=DEFAULT_RETENTION_DAYS, validators=[MinValueValidator(1)],
        help_text=_("Days the debtor's personal data is kept after their last case with this creditor closed "
                    "(2190 days: about six years)."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("creditor")
        verbose_name_plural = _("creditors")

    def __str__(self) -> str:
        return self.name


class Case(models.Model):
    """One debt of one debtor for one creditor (expediente)."""

    # The foreign keys have no single-column index of their own: each leads a composite index
    # below (creditor: case_creditor_status_idx and the unique reference; debtor: case_debtor_idx;
    # agent: case_queue_idx), which serves the same lookups. Every index is paid on each insert
    # and on each update of next_action_at (imports, replans).
    creditor = models.ForeignKey(Creditor, verbose_name=_("creditor"), on_delete=models.PROTECT, related_name="cases", db_index=False)
    debtor = models.ForeignKey("debtors.Debtor", verbose_name=_("debtor"), on_delete=models.PROTECT, related_name="cases", db_index=False)
    reference = models.CharField(_("reference"), max_length=64)
    original_amount = models.DecimalField(_("original amount"), **MONEY)
    fees = models.DecimalField(_("fees"), default=ZERO, **MONEY)
    balance = models.DecimalField(_("balance"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    due_date = models.DateField(_("due date"))
    placed_at = models.DateField(_("placed on"), help_text=_("When the creditor handed the case over."))
    status = models.CharField(_("status"), max_length=12, choices=CaseStatus.choices, default=CaseStatus.NEW)
    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices, default=Objective.REMIND)
    # Why the objective and what the next step is: a reason code and its parameters written by the
    # engine, or {"text": ...} typed by a person (contacts.engine.reasons renders both in the
    # reader's language).
    objective_reason = models.JSONField(_("why this objective"), default=dict, blank=True)
    assigned_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned agent"),
        on_delete=models.PROTECT,
        related_name="assigned_cases",
        null=True,
        blank=True,
        db_index=False,
    )
    next_action_at = models.DateTimeField(_("next action"), null=True, blank=True)
    next_action_note = models.JSONField(_("next step"), default=dict, blank=True)
    # Since when the engine holds the case (a dispute, a hold or a debtor flag); empty while it is worked.
    paused_at = models.DateTimeField(_("paused since"), null=True, blank=True)
    last_contact_at = models.DateTimeField(_("last contact"), null=True, blank=True)
    last_outcome = models.CharField(_("last outcome"), max_length=20, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Optimistic locking: every service that changes the case bumps it; a form that carries an
    # older version is refused instead of silently overwriting someone else's change.
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        constraints = [
            models.UniqueConstraint(fields=["creditor", "reference"], name="case_reference_unique_per_creditor"),
            models.CheckConstraint(condition=Q(original_amount__gt=0), name="case_original_amount_positive"),
            models.CheckConstraint(condition=Q(fees__gte=0), name="case_fees_not_negative"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="case_balance_not_negative"),
            # The tolerance is for SQLite, which stores decimals as binary floats: 44314.70 + 2215.74
            # there is 46530.439999…, below a balance of 46530.44. Far below a cent, so harmless.
            models.CheckConstraint(
                condition=Q(balance__lte=F("original_amount") + F("fees") + Decimal("0.001")), name="case_balance_within_debt"
            ),
            models.CheckConstraint(condition=Q(status__in=CaseStatus.values), name="case_status_valid"),
            models.CheckConstraint(condition=Q(objective__in=Objective.values), name="case_objective_valid"),
            models.CheckConstraint(condition=~Q(status=CaseStatus.PAID) | Q(balance=0), name="case_paid_means_zero_balance"),
            models.CheckConstraint(condition=~Q(reference=""), name="case_reference_not_empty"),
        ]
        indexes = [
            # Agent queue: WHERE assigned_agent_id=? AND status IN (open) ORDER BY next_action_at
            models.Index(fields=["assigned_agent", "status", "next_action_at"], name="case_queue_idx"),
            # "Never wait and see": workable cases with no next step (the safety-net sweeper, the
            # dashboards' "no next step"). Partial, so the planner's update of a case's next action
            # (a million cases in a portfolio replan) leaves it untouched; "next action past" is
            # served by case_workable_next_idx.
            models.Index(
                fields=["id"],
                name="case_unplanned_idx",
                condition=Q(status__in=["new", "active", "promised", "plan"], next_action_at__isnull=True),
            ),
            # Home page "next actions due": WHERE status IN (workable) ORDER BY next_action_at LIMIT 10
            # (one ordered index scan instead of sorting every open case of the portfolio).
            models.Index(
                fields=["next_action_at", "id"],
                name="case_workable_next_idx",
                condition=Q(status__in=["new", "active", "promised", "plan"], next_action_at__isnull=False),
            ),
            # Portfolio by creditor and aging: WHERE creditor_id=? AND status=? AND due_date ...
            models.Index(fields=["creditor", "status", "due_date"], name="case_creditor_status_idx"),
            models.Index(fields=["debtor"], name="case_debtor_idx"),
            # Search by reference in any case: WHERE UPPER(reference) = UPPER(?). The search by a
            # prefix (LIKE 'XSS-000%') has a text_pattern_ops index on PostgreSQL (migration 0011).
            models.Index(Upper("reference"), name="case_reference_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def total_due(self) -> Decimal:
        return self.original_amount + self.fees

    @property
    def paid_amount(self) -> Decimal:
        return self.total_due - self.balance

    def days_past_due(self, today: dt.date | None = None) -> int:
        today = today or dt.date.today()
        return max((today - self.due_date).days, 0)

    def aging_bucket(self, today: dt.date | None = None) -> str:
        return aging_bucket(self.days_past_due(today))

    @property
    def is_open(self) -> bool:
        return self.status in CaseStatus.open_values()


class PromiseToPay(models.Model):
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="promises")
    amount = models.DecimalField(_("amount"), **MONEY)
    due_date = models.DateField(_("promised date"))
    method = models.CharField(_("payment method"), max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.TRANSFER)
    status = models.CharField(_("status"), max_length=10, choices=PromiseStatus.choices, default=PromiseStatus.PENDING)
    amount_paid = models.DecimalField(_("amount paid"), default=ZERO, **MONEY)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    contact_attempt = models.ForeignKey(
        "contacts.ContactAttempt", on_delete=models.SET_NULL, null=True, blank=True, related_name="promises"
    )
    created_at = models.DateTimeField(_("created"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        ordering = ["-due_date", "-id"]
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="promise_paid_not_negative"),
            models.CheckConstraint(condition=Q(status__in=PromiseStatus.values), name="promise_status_valid"),
        ]
        indexes = [
            # Promise monitoring sweeper: WHERE status='pending' AND due_date <= ?
            models.Index(fields=["due_date"], name="promise_pending_due_idx", condition=Q(status="pending")),
            models.Index(fields=["case", "-due_date"], name="promise_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} @ {self.due_date}"


class PaymentPlan(models.Model):
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="plans")
    status = models.CharField(_("status"), max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    total_amount = models.DecimalField(_("total"), **MONEY)
    discount_amount = models.DecimalField(_("discount"), default=ZERO, **MONEY)
    instalment_count = models.PositiveSmallIntegerField(_("instalments"))
    frequency = models.CharField(_("frequency"), max_length=10, choices=PlanFrequency.choices, default=PlanFrequency.MONTHLY)
    first_due_date = models.DateField(_("first instalment"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("payment plan")
        verbose_name_plural = _("payment plans")
        constraints = [
            models.CheckConstraint(condition=Q(total_amount__gt=0), name="plan_total_positive"),
            models.CheckConstraint(condition=Q(discount_amount__gte=0), name="plan_discount_not_negative"),
            models.CheckConstraint(condition=Q(instalment_count__gte=1), name="plan_has_instalments"),
            models.CheckConstraint(condition=Q(status__in=PlanStatus.values), name="plan_status_valid"),
            # At most one live plan per case.
            models.UniqueConstraint(
                fields=["case"], condition=Q(status__in=["proposed", "active"]), name="plan_one_live_per_case"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instalment_count} x {self.get_frequency_display()}"


class Instalment(models.Model):
    plan = models.ForeignKey(PaymentPlan, verbose_name=_("plan"), on_delete=models.CASCADE, related_name="instalments")
    number = models.PositiveSmallIntegerField(_("number"))
    due_date = models.DateField(_("due date"))
    amount = models.DecimalField(_("amount"), **MONEY)
    amount_paid = models.DecimalField(_("amount paid"), default=ZERO, **MONEY)
    status = models.CharField(_("status"), max_length=10, choices=InstalmentStatus.choices, default=InstalmentStatus.PENDING)

    class Meta:
        ordering = ["plan", "number"]
        verbose_name = _("instalment")
        verbose_name_plural = _("instalments")
        constraints = [
            models.UniqueConstraint(fields=["plan", "number"], name="instalment_number_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="instalment_amount_positive"),
            models.CheckConstraint(condition=Q(amount_paid__gte=0), name="instalment_paid_not_negative"),
            models.CheckConstraint(condition=Q(amount_paid__lte=F("amount")), name="instalment_paid_within_amount"),
        ]
        indexes = [
            # Instalment reminders and default detection: WHERE status='pending' AND due_date <= ?
            models.Index(fields=["due_date"], name="instalment_pending_due_idx", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.amount} @ {self.due_date}"


class Payment(models.Model):
    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("amount"), **MONEY)
    received_on = models.DateField(_("received on"))
    method = models.CharField(_("method"), max_length=16, choices=PaymentMethod.choices, default=PaymentMethod.TRANSFER)
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    # Set by API clients and file imports so that a retried submission posts once.
    idempotency_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    posted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["-received_on", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
        ]
        indexes = [
            models.Index(fields=["case", "-received_on"], name="payment_case_idx"),
            # Collected per period in dashboards: WHERE received_on BETWEEN ? AND ?
            models.Index(fields=["received_on"], name="payment_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.received_on}"


class Barrier(models.Model):
    """Something missing on the creditor's side that blocks payment (seed 001)."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="barriers")
    kind = models.CharField(_("what is missing"), max_length=24, choices=BarrierKind.choices)
    description = models.CharField(_("description"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=BarrierStatus.choices, default=BarrierStatus.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    opened_at = models.DateTimeField(_("opened"))
    removed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    removed_at = models.DateTimeField(_("removed"), null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("payment barrier")
        verbose_name_plural = _("payment barriers")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=BarrierKind.values), name="barrier_kind_valid"),
            models.CheckConstraint(
                condition=Q(status="open", removed_at__isnull=True) | Q(status="removed", removed_at__isnull=False),
                name="barrier_removed_has_time",
            ),
        ]
        indexes = [models.Index(fields=["case", "status"], name="barrier_case_idx")]

    def __str__(self) -> str:
        return self.get_kind_display()


class PlanGuardrails(ConstraintFieldsMixin, models.Model):
    """What an agent may agree alone. A plan outside these limits needs a supervisor's approval
    (see cases.guardrails.plan_needs_approval). A single row, pk=1."""

    min_instalment = models.DecimalField(_("minimum instalment"), max_digits=14, decimal_places=2, default=Decimal("30.00"))
    max_instalments = models.PositiveSmallIntegerField(_("maximum number of instalments"), default=12)
    max_term_months = models.PositiveSmallIntegerField(_("maximum term (months)"), default=12)
    max_discount_percent = models.DecimalField(
        _("maximum discount an agent may grant (%)"), max_digits=5, decimal_places=2, default=Decimal("10.00")
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("payment-plan guardrails")
        verbose_name_plural = _("payment-plan guardrails")
        # Kept from the admin area, where the model was first defined.
        db_table = "adminarea_planguardrails"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="guardrails_single_row"),
            models.CheckConstraint(
                condition=Q(min_instalment__gt=0), name="guardrails_min_instalment_positive",
                violation_error_code="guardrails_min_instalment_positive",
                violation_error_message=_("The minimum instalment must be greater than zero."),
            ),
            models.CheckConstraint(
                condition=Q(max_instalments__gte=1), name="guardrails_max_instalments_positive",
                violation_error_code="guardrails_max_instalments_positive",
                violation_error_message=_("A plan must be allowed at least one instalment."),
            ),
            models.CheckConstraint(
                condition=Q(max_term_months__gte=1), name="guardrails_term_positive",
                violation_error_code="guardrails_term_positive",
                violation_error_message=_("The maximum term must be at least one month."),
            ),
            models.CheckConstraint(
                condition=Q(max_discount_percent__gte=0, max_discount_percent__lte=100), name="guardrails_discount_range",
                violation_error_code="guardrails_discount_range",
                violation_error_message=_("The discount must be between 0 and 100."),
            ),
        ]

    constraint_fields = {
        "guardrails_min_instalment_positive": "min_instalment",
        "guardrails_max_instalments_positive": "max_instalments",
        "guardrails_term_positive": "max_term_months",
        "guardrails_discount_range": "max_discount_percent",
    }

    def __str__(self) -> str:
        return str(_("Payment-plan guardrails"))

    @classmethod
    def current(cls) -> PlanGuardrails:
        return cls.objects.get_or_create(pk=1)[0]
