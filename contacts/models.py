from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cases.choices import BarrierKind, Channel, Direction, Objective, Outcome, StatementKind
from collections_crm.core.constraints import ConstraintFieldsMixin
from debtors.models import DebtorKind


class CatalogueEntry(models.Model):
    """A value of an admin-editable catalogue, named in both languages."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name_es = models.CharField(_("name (Spanish)"), max_length=120)
    name_en = models.CharField(_("name (English)"), max_length=120)
    description_es = models.TextField(_("description (Spanish)"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        abstract = True
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.name_es if (get_language() or "es").startswith("es") else self.name_en

    @property
    def description(self) -> str:
        return self.description_es if (get_language() or "es").startswith("es") else self.description_en


class Technique(CatalogueEntry):
    """Techniques an agent logs (seed 004, also seeds 000 and 003)."""

    class Meta(CatalogueEntry.Meta):
        verbose_name = _("technique")
        verbose_name_plural = _("techniques")


class ExcuseCategory(CatalogueEntry):
    """What the debtor said, mapped to the objective it usually calls for."""

    suggested_objective = models.CharField(_("usual objective"), max_length=20, choices=Objective.choices)
    # True when the excuse means something is missing on our side: logging it opens a barrier of
    # ``barrier_kind`` on the case (the objective becomes Remove barriers until it is removed).
    is_barrier = models.BooleanField(_("is a payment barrier"), default=False)
    barrier_kind = models.CharField(_("barrier it opens"), max_length=24, choices=BarrierKind.choices, blank=True,
                                    db_default="", default="")

    class Meta(CatalogueEntry.Meta):
        verbose_name = _("excuse category")
        verbose_name_plural = _("excuse categories")


class ContactAttempt(models.Model):
    """One interaction (gestión) with the debtor, by an agent or by the system."""

    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="attempts")
    contact_point = models.ForeignKey(
        "debtors.ContactPoint", verbose_name=_("contact point"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices, default=Direction.OUTBOUND)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.PROTECT, null=True, blank=True, related_name="attempts"
    )
    occurred_at = models.DateTimeField(_("when"))
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"), default=0)
    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    techniques = models.ManyToManyField(Technique, verbose_name=_("techniques"), blank=True, related_name="attempts")
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices)
    excuse_category = models.ForeignKey(
        ExcuseCategory, verbose_name=_("excuse category"), on_delete=models.PROTECT, null=True, blank=True, related_name="attempts"
    )
    statement_kind = models.CharField(
        _("argument or excuse"), max_length=10, choices=StatementKind.choices, default=StatementKind.NONE, blank=True
    )
    notes = models.TextField(_("notes"), blank=True, max_length=settings.CRM_NOTES_MAX_LENGTH)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_at = models.DateTimeField(_("next step on"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="attempt_channel_valid"),
            models.CheckConstraint(condition=Q(direction__in=Direction.values), name="attempt_direction_valid"),
            models.CheckConstraint(condition=Q(objective__in=Objective.values), name="attempt_objective_valid"),
            models.CheckConstraint(condition=Q(outcome__in=Outcome.values), name="attempt_outcome_valid"),
            models.CheckConstraint(condition=Q(statement_kind__in=StatementKind.values), name="attempt_statement_valid"),
        ]
        indexes = [
            # Case timeline and policy counts: WHERE case_id=? ORDER BY occurred_at DESC
            models.Index(fields=["case", "-occurred_at"], name="attempt_case_idx"),
            # Team activity per agent and day: WHERE agent_id=? AND occurred_at BETWEEN ? AND ?
            models.Index(fields=["agent", "occurred_at"], name="attempt_agent_idx"),
            models.Index(fields=["occurred_at"], name="attempt_occurred_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.occurred_at:%Y-%m-%d %H:%M}"


class MessageTemplate(models.Model):
    """A message admins own, per objective, channel and language; its text lives in versions."""

    name = models.CharField(_("name"), max_length=120)
    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.outreach_choices())
    language = models.CharField(_("language"), max_length=8, choices=[("es", "Español"), ("en", "English")])
    active = models.BooleanField(_("active"), default=True)
    current_version = models.ForeignKey(
        "contacts.MessageTemplateVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["objective", "channel", "language", "name"]
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        constraints = [
            models.UniqueConstraint(fields=["objective", "channel", "language", "name"], name="template_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class MessageTemplateVersion(models.Model):
    """Immutable text of a template at one point; sent messages point at the version used."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("body"), max_length=10000)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["template", "-number"]
        verbose_name = _("template version")
        verbose_name_plural = _("template versions")
        constraints = [
            models.UniqueConstraint(fields=["template", "number"], name="template_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number}"



# --- Follow-up engine: strategy rules, cadences, follow-ups, outbox, contact policy -----------
#
# Everything below is data an admin may edit (rules, cadences, jurisdiction packs, settings) or
# rows the engine writes (follow-ups, outbound messages, print batches, refusals). The decisions
# themselves live in the pure modules contacts/planner.py and contacts/policy.py.


class StepKind(models.TextChoices):
    AUTOMATIC = "automatic", _("Automatic message")
    AGENT_TASK = "agent_task", _("Agent task")


class RuleCondition(models.TextChoices):
    """The facts a strategy rule can test (computed by the engine from the case history)."""

    OPEN_BARRIER = "open_barrier", _("A payment barrier is open (something missing on our side)")
    PROMISE_PENDING = "promise_pending", _("A promise or instalment is pending")
    CONSEQUENCE_APPLIED = "consequence_applied", _("A consequence was applied after the last commitment")
    BROKEN_PROMISES_AT_LEAST = "broken_promises_at_least", _("At least N promises broken or plans defaulted")
    REFUSAL = "refusal", _("The debtor refused to pay or fraud is suspected")
    EXCUSES_IN_WINDOW = "excuses_in_window", _("At least N excuses within the last D days")
    ARGUMENT_GIVEN = "argument_given", _("The debtor's last statement was an argument (cannot pay now)")
    PARTIAL_PAYMENT = "partial_payment_no_agreement", _("Part paid, with no promise or plan for the rest")
    ACKNOWLEDGED = "acknowledged_no_date", _("The debtor acknowledged the debt but gave no date")
    EXCUSE_GIVEN = "excuse_given", _("The debtor gave an excuse (its category's usual objective, if it has one)")
    BALANCE_AT_LEAST = "balance_at_least", _("Balance at or above an amount, and at least N days past due")
    DAYS_SINCE_CONTACT_AT_LEAST = "days_since_contact_at_least", _("At least N days since the last contact (or never contacted)")
    DAYS_PAST_DUE_AT_LEAST = "days_past_due_at_least", _("At least N days past due")
    ALWAYS = "always", _("Always (fallback)")


class StrategyRule(models.Model):
    """One line of the ordered strategy: the first active rule whose condition holds, for a case in
    the rule's scope, chooses the case's objective (seed 001). ``threshold`` is the N of the
    conditions that take one, ``window_days`` the D of "within the last D days", ``amount`` the
    balance of "balance at or above"; ``creditor`` and ``debtor_kind`` narrow the rule to a
    portfolio or a segment (empty: every case)."""

    position = models.PositiveSmallIntegerField(_("position"), help_text=_("Rules are tried in this order."))
    name = models.CharField(_("name"), max_length=120)
    condition = models.CharField(_("condition"), max_length=32, choices=RuleCondition.choices)
    threshold = models.PositiveSmallIntegerField(_("threshold (N)"), default=0)
    window_days = models.PositiveSmallIntegerField(_("within the last D days"), default=0)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, null=True, blank=True)
    creditor = models.ForeignKey("cases.Creditor", verbose_name=_("only for creditor"), on_delete=models.CASCADE,
                                 null=True, blank=True, related_name="+")
    debtor_kind = models.CharField(_("only for debtors of kind"), max_length=10, blank=True, default="",
                                   choices=DebtorKind.choices)
    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    active = models.BooleanField(_("active"), default=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("strategy rule")
        verbose_name_plural = _("strategy rules")
        constraints = [
            models.CheckConstraint(condition=Q(condition__in=RuleCondition.values), name="rule_condition_valid"),
            models.CheckConstraint(condition=Q(objective__in=Objective.values), name="rule_objective_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class Cadence(ConstraintFieldsMixin, models.Model):
    """The sequence of steps that pursues one objective. After the last step the last step is
    repeated every ``repeat_every_days`` so that no case is ever forgotten (seed 002)."""

    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices, unique=True)
    name = models.CharField(_("name"), max_length=120)
    repeat_every_days = models.PositiveSmallIntegerField(_("repeat the last step every (days)"), default=7)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["objective"]
        verbose_name = _("cadence")
        verbose_name_plural = _("cadences")
        constraints = [
            models.CheckConstraint(condition=Q(objective__in=Objective.values), name="cadence_objective_valid"),
            models.CheckConstraint(
                condition=Q(repeat_every_days__gte=1), name="cadence_repeat_positive", violation_error_code="cadence_repeat_positive",
                violation_error_message=_("The last step must repeat at least every day."),
            ),
        ]

    constraint_fields = {"cadence_repeat_positive": "repeat_every_days"}

    def __str__(self) -> str:
        return self.name


class CadenceStep(models.Model):
    """One step of a cadence: on day ``delay_days`` after the objective was chosen, at
    ``send_time`` in the debtor's local time, send an automatic message or give the agent a task.
    ``template`` may stay empty: the active template for the objective, channel and the debtor's
    language is used. ``is_consequence`` marks the step that applies the announced consequence
    (done → the strategy moves to change terms)."""

    cadence = models.ForeignKey(Cadence, verbose_name=_("cadence"), on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"))
    delay_days = models.PositiveSmallIntegerField(_("day"), help_text=_("Days after the objective was chosen."))
    # A time, not "10:00": a form compares its initial value with the posted time, and a string never
    # equals one, so an untouched empty row of the cadence editor counted as changed (and invalid).
    send_time = models.TimeField(_("time of day (debtor's time)"), default=dt.time(10))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.outreach_choices())
    kind = models.CharField(_("kind"), max_length=12, choices=StepKind.choices)
    template = models.ForeignKey(
        MessageTemplate, verbose_name=_("template"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    instructions = models.CharField(_("instructions for the agent"), max_length=200, blank=True)
    is_consequence = models.BooleanField(_("applies the consequence"), default=False)

    class Meta:
        ordering = ["cadence", "position"]
        verbose_name = _("cadence step")
        verbose_name_plural = _("cadence steps")
        constraints = [
            models.UniqueConstraint(fields=["cadence", "position"], name="cadence_step_unique_position"),
            models.CheckConstraint(condition=Q(channel__in=[c for c, _label in Channel.outreach_choices()]), name="cadence_step_channel_valid"),
            models.CheckConstraint(condition=Q(kind__in=StepKind.values), name="cadence_step_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.cadence} #{self.position}: {self.get_channel_display()} +{self.delay_days}d"


class PausedCommitments(models.TextChoices):
    SHIFT = "shift", _("Their dates move by the length of the pause")
    EVALUATE = "evaluate", _("They are evaluated as they stand when the pause lifts")


class FollowUpSettings(ConstraintFieldsMixin, models.Model):
    """Engine-wide settings: a single row (pk=1), created by the data migration."""

    promise_grace_days = models.PositiveSmallIntegerField(
        _("grace days before a promise is broken"), default=1,
        help_text=_("An unpaid promise or instalment is marked broken/missed this many days after its date."),
    )
    reminder_days_before = models.PositiveSmallIntegerField(_("reminder days before a promise"), default=1)
    reminder_channel = models.CharField(_("reminder channel"), max_length=10, choices=Channel.outreach_choices(), default=Channel.SMS)
    reminder_template = models.ForeignKey(
        MessageTemplate, verbose_name=_("reminder template"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    missed_instalments_to_default = models.PositiveSmallIntegerField(
        _("missed instalments that default a plan"), default=2
    )
    paused_commitments = models.CharField(
        _("promises and instalments while a case is paused"), max_length=10, choices=PausedCommitments.choices,
        default=PausedCommitments.SHIFT, db_default=PausedCommitments.SHIFT,
        help_text=_("Nothing is broken or missed while a case is paused (dispute, hold, a debtor flag)."),
    )

    class Meta:
        verbose_name = _("follow-up settings")
        verbose_name_plural = _("follow-up settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(missed_instalments_to_default__gte=1), name="settings_default_after_positive",
                violation_error_code="settings_default_after_positive",
                violation_error_message=_("At least one missed instalment must default a plan."),
            ),
        ]

    constraint_fields = {"settings_default_after_positive": "missed_instalments_to_default"}

    def __str__(self) -> str:
        return str(_("Follow-up settings"))


class FollowUpPurpose(models.TextChoices):
    CADENCE = "cadence", _("Cadence step")
    PROMISE_REMINDER = "promise_reminder", _("Promise reminder")
    CALLBACK = "callback", _("Agreed call-back")


class FollowUpStatus(models.TextChoices):
    PENDING = "pending", _("Scheduled")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    SKIPPED = "skipped", _("Skipped")
    CANCELLED = "cancelled", _("Cancelled")


class FollowUp(models.Model):
    """One scheduled next step of a case. The database is the schedule: a beat sweeper claims due
    automatic rows; agent tasks wait in the agent's queue. Replanning cancels pending rows that
    no longer match the plan. ``anchor_at`` is when the current objective's situation began (the
    cadence counts its days from it); ``policy_reason`` says why the contact policy moved it."""

    # Indexed by followup_case_idx (case, status, due_at), which it leads.
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="followups", db_index=False)
    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    purpose = models.CharField(_("purpose"), max_length=20, choices=FollowUpPurpose.choices, default=FollowUpPurpose.CADENCE)
    step = models.PositiveSmallIntegerField(_("step"), default=0, help_text=_("Position in the cadence (0 for one-off steps)."))
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.outreach_choices())
    kind = models.CharField(_("kind"), max_length=12, choices=StepKind.choices)
    due_at = models.DateTimeField(_("due"))
    anchor_at = models.DateTimeField(_("objective since"))
    status = models.CharField(_("status"), max_length=10, choices=FollowUpStatus.choices, default=FollowUpStatus.PENDING)
    rule = models.ForeignKey(StrategyRule, verbose_name=_("rule"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cadence_step = models.ForeignKey(CadenceStep, verbose_name=_("cadence step"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # A reason code and its parameters (contacts.engine.reasons), rendered in the reader's language.
    reason = models.JSONField(_("reason"), default=dict, blank=True)
    # The cadence step's text as the admin wrote it (a seeded one is translated when shown).
    instructions = models.CharField(_("instructions"), max_length=200, blank=True)
    is_consequence = models.BooleanField(_("applies the consequence"), default=False)
    policy_reason = models.CharField(_("moved by the contact policy"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created"))
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)
    # Empty on every step the engine writes: indexed only where set (followup_completed_*_idx).
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("completed by"), on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        db_index=False,
    )
    completed_attempt = models.ForeignKey(
        ContactAttempt, verbose_name=_("completed by contact"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        db_index=False,
    )
    result = models.CharField(_("result"), max_length=200, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "objective", "step"], condition=Q(status__in=["pending", "running"]),
                name="followup_one_pending_per_step",
            ),
            models.CheckConstraint(condition=Q(status__in=FollowUpStatus.values), name="followup_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=StepKind.values), name="followup_kind_valid"),
            models.CheckConstraint(condition=Q(purpose__in=FollowUpPurpose.values), name="followup_purpose_valid"),
            models.CheckConstraint(condition=Q(objective__in=Objective.values), name="followup_objective_valid"),
        ]
        indexes = [
            # Sweeper: WHERE status='pending' AND kind='automatic' AND due_at <= now ORDER BY due_at
            models.Index(fields=["due_at"], name="followup_due_auto_idx", condition=Q(status="pending", kind="automatic")),
            # Lease recovery: WHERE status='running' AND claimed_at < now - lease
            models.Index(fields=["claimed_at"], name="followup_running_idx", condition=Q(status="running")),
            # Replanning and the case page: WHERE case_id=? [AND status=...] ORDER BY due_at
            models.Index(fields=["case", "status", "due_at"], name="followup_case_idx"),
            # Deleting a user or an attempt looks for the steps it completed.
            models.Index(fields=["completed_by"], name="followup_completed_by_idx", condition=Q(completed_by__isnull=False)),
            models.Index(fields=["completed_attempt"], name="followup_completed_att_idx", condition=Q(completed_attempt__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_objective_display()} #{self.step} {self.get_channel_display()} {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_live(self) -> bool:
        return self.status in (FollowUpStatus.PENDING, FollowUpStatus.RUNNING)


class MessageStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class PrintBatch(models.Model):
    """Letters of one day, rendered together to one PDF for printing and posting."""

    day = models.DateField(_("day"), unique=True)
    pdf = models.FileField(_("PDF"), upload_to="letters/", blank=True)
    rendered_at = models.DateTimeField(_("rendered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))

    class Meta:
        ordering = ["-day"]
        verbose_name = _("print batch")
        verbose_name_plural = _("print batches")

    def __str__(self) -> str:
        return f"{self.day}"


class OutboundMessage(models.Model):
    """The outbox: a message written in the same transaction as the decision to send it, then
    sent by a task. ``idempotency_key`` is unique and passed to the backend, so a retried task
    or a second worker never sends twice. ``template_version`` is the exact text used."""

    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="messages")
    followup = models.OneToOneField(
        FollowUp, verbose_name=_("follow-up"), on_delete=models.SET_NULL, null=True, blank=True, related_name="message"
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.outreach_choices())
    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    contact_point = models.ForeignKey(
        "debtors.ContactPoint", verbose_name=_("contact point"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipient = models.CharField(_("recipient"), max_length=300)
    template_version = models.ForeignKey(
        MessageTemplateVersion, verbose_name=_("template version"), on_delete=models.PROTECT, related_name="messages"
    )
    language = models.CharField(_("language"), max_length=8)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=10, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    idempotency_key = models.CharField(_("idempotency key"), max_length=80, unique=True)
    not_before = models.DateTimeField(_("not before"))
    dispatched_at = models.DateTimeField(_("handed to the broker"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("send attempts"), default=0)
    provider_id = models.CharField(_("provider id"), max_length=200, blank=True)
    error = models.CharField(_("last error"), max_length=300, blank=True)
    print_batch = models.ForeignKey(
        PrintBatch, verbose_name=_("print batch"), on_delete=models.PROTECT, null=True, blank=True, related_name="letters"
    )
    contact_attempt = models.ForeignKey(
        ContactAttempt, verbose_name=_("logged as"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        constraints = [
            models.CheckConstraint(condition=Q(status__in=MessageStatus.values), name="message_status_valid"),
            models.CheckConstraint(condition=Q(channel__in=["email", "sms", "letter", "whatsapp"]), name="message_channel_sendable"),
        ]
        indexes = [
            # Outbox relay: WHERE status IN ('queued','sending') ORDER BY not_before
            models.Index(fields=["not_before"], name="message_unsent_idx", condition=Q(status__in=["queued", "sending"])),
            models.Index(fields=["case", "-created_at"], name="message_case_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.idempotency_key}"


class JurisdictionPack(ConstraintFieldsMixin, models.Model):
    """Contact rules of one jurisdiction, applied to debtors whose ``country`` is listed in
    ``countries`` (comma-separated ISO codes; the pack marked ``is_default`` covers the rest).
    Hours and weekdays are in the DEBTOR's local time. Empty limits mean "no limit"."""

    code = models.SlugField(_("code"), max_length=30, unique=True)
    name = models.CharField(_("name"), max_length=120)
    countries = models.CharField(_("countries"), max_length=200, help_text=_("ISO codes separated by commas, e.g. ES"))
    is_default = models.BooleanField(_("default pack"), default=False)
    start_time = models.TimeField(_("contact allowed from"))
    end_time = models.TimeField(_("contact allowed until"))
    weekdays = models.CharField(
        _("allowed weekdays"), max_length=13, default="1,2,3,4,5", help_text=_("ISO weekdays, 1 = Monday … 7 = Sunday")
    )
    skip_holidays = models.BooleanField(_("no contact on public holidays"), default=False)
    holiday_country = models.CharField(_("holiday calendar country"), max_length=2, blank=True)
    holiday_subdivision = models.CharField(_("holiday calendar region"), max_length=10, blank=True)
    hours_channels = models.CharField(
        _("channels bound by the hours"), max_length=100, default="phone,sms,email,whatsapp,visit",
        help_text=_("Letters are posted in batches and are usually exempt."),
    )
    max_calls_per_case_7d = models.PositiveSmallIntegerField(_("max calls per case in 7 days"), null=True, blank=True)
    pause_days_after_conversation = models.PositiveSmallIntegerField(_("no call for N days after a conversation"), null=True, blank=True)
    max_contacts_per_day = models.PositiveSmallIntegerField(_("max contacts per debtor per day"), null=True, blank=True)
    consent_channels = models.CharField(
        _("channels that need consent"), max_length=100, default="sms,whatsapp", blank=True
    )
    active = models.BooleanField(_("active"), default=True)
    notes = models.TextField(_("legal basis and notes"), blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("jurisdiction pack")
        verbose_name_plural = _("jurisdiction packs")
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__lt=models.F("end_time")), name="pack_hours_ordered", violation_error_code="pack_hours_ordered",
                violation_error_message=_("Contact must end after it starts: make “until” later than “from”."),
            ),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="pack_one_default", violation_error_code="pack_one_default",
                violation_error_message=_("Another contact policy is already the default: only one can be."),
            ),
        ]

    constraint_fields = {"pack_hours_ordered": "end_time", "pack_one_default": "is_default"}

    def __str__(self) -> str:
        return self.name


class RefusalStage(models.TextChoices):
    SEND = "send", _("At send time")
    CALL = "call", _("When an agent started a call")
    SCHEDULE = "schedule", _("When the step was scheduled")


class ContactRefusal(models.Model):
    """A contact the policy refused, with the reason code (charted on the supervisor dashboard).
    The step it concerned was moved to ``next_allowed_at`` (empty: blocked until a flag changes)."""

    # Indexed by refusal_case_idx (case, at), which it leads.
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="contact_refusals", db_index=False)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.outreach_choices())
    reason = models.CharField(_("reason"), max_length=32)
    stage = models.CharField(_("stage"), max_length=10, choices=RefusalStage.choices)
    at = models.DateTimeField(_("at"))
    next_allowed_at = models.DateTimeField(_("next allowed"), null=True, blank=True)
    pack = models.ForeignKey(JurisdictionPack, verbose_name=_("jurisdiction pack"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    followup = models.ForeignKey(FollowUp, verbose_name=_("follow-up"), on_delete=models.SET_NULL, null=True, blank=True, related_name="refusals")
    # Empty on the refusals the engine records: indexed only where set (refusal_user_idx).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("agent"), on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             db_index=False)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("contact refusal")
        verbose_name_plural = _("contact refusals")
        indexes = [
            # Dashboard: WHERE at >= ? GROUP BY reason
            models.Index(fields=["at", "reason"], name="refusal_at_idx"),
            models.Index(fields=["case", "-at"], name="refusal_case_idx"),
            models.Index(fields=["user"], name="refusal_user_idx", condition=Q(user__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.at:%Y-%m-%d %H:%M}"


# Languages an admin writes playbooks in.
LANGUAGES = [("es", "Español"), ("en", "English")]


class Playbook(ConstraintFieldsMixin, models.Model):
    """Talking points for one objective, optionally narrowed to one excuse category, so that
    similar cases get similar negotiations (seed 004)."""

    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    excuse_category = models.ForeignKey(
        ExcuseCategory, verbose_name=_("excuse category"), on_delete=models.PROTECT,
        null=True, blank=True, related_name="playbooks",
    )
    language = models.CharField(_("language"), max_length=8, choices=LANGUAGES)
    title = models.CharField(_("title"), max_length=120)
    talking_points = models.TextField(_("talking points"), max_length=4000, help_text=_("One point per line."))
    active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["objective", "excuse_category__position", "language"]
        verbose_name = _("playbook")
        verbose_name_plural = _("playbooks")
        # Kept from the admin area, where the model was first defined.
        db_table = "adminarea_playbook"
        constraints = [
            models.CheckConstraint(condition=Q(objective__in=Objective.values), name="playbook_objective_valid"),
            # NULL never equals NULL in a unique index, so the generic playbook needs its own.
            models.UniqueConstraint(
                fields=["objective", "excuse_category", "language"], condition=Q(excuse_category__isnull=False),
                name="playbook_unique_per_excuse", violation_error_code="playbook_unique_per_excuse",
                violation_error_message=_("This excuse already has a playbook for this objective in this language."),
            ),
            models.UniqueConstraint(
                fields=["objective", "language"], condition=Q(excuse_category__isnull=True), name="playbook_unique_generic",
                violation_error_code="playbook_unique_generic",
                violation_error_message=_("This objective already has a general playbook in this language: choose an excuse or edit that one."),
            ),
        ]

    constraint_fields = {"playbook_unique_per_excuse": "excuse_category", "playbook_unique_generic": "excuse_category"}

    def __str__(self) -> str:
        return self.title

    @property
    def points(self) -> list[str]:
        return [line.strip(" -•\t") for line in self.talking_points.splitlines() if line.strip(" -•\t")]
