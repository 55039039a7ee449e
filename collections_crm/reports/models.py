"""Pre-aggregated figures for the portfolio dashboard, and team priorities.

The fact tables are derived data: ``services.facts_rebuild`` deletes and re-inserts whole days
(or snapshot dates), so running it twice gives the same rows. They are keyed by agent and
creditor so that the dashboard's filters (creditor, team = its agents, agent, dates) and the
visibility rules (a supervisor's teams) become a WHERE on small tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.choices import Objective

from .metrics import BUCKET_LABELS

MONEY = {"max_digits": 16, "decimal_places": 2}


class FactBase(models.Model):
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, null=True, db_constraint=False, related_name="+")
    creditor = models.ForeignKey("cases.Creditor", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} agent={self.agent_id} creditor={self.creditor_id}"


class AttemptDaily(FactBase):
    """Contact attempts per day, agent (who made them), creditor and objective pursued, with what
    followed within the effect window (a promise, a kept promise, money)."""

    day = models.DateField()
    objective = models.CharField(max_length=20, choices=Objective.choices)
    attempts = models.PositiveIntegerField(default=0)
    right_party = models.PositiveIntegerField(default=0)
    led_promise = models.PositiveIntegerField(default=0)
    led_kept = models.PositiveIntegerField(default=0)
    led_money = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # A supervisor's slice: WHERE agent_id IN (their agents) AND day BETWEEN ? AND ?
            models.Index(fields=["agent", "day"], name="rep_attempt_agent_idx"),
            # Everything (admins): WHERE day BETWEEN ? AND ?
            models.Index(fields=["day"], name="rep_attempt_day_idx"),
        ]


class MoneyDaily(FactBase):
    """Placements (by placement day) and payments (by day received), by the case's agent."""

    day = models.DateField()
    placed_cases = models.PositiveIntegerField(default=0)
    placed_amount = models.DecimalField(default=0, **MONEY)
    payments = models.PositiveIntegerField(default=0)
    collected = models.DecimalField(default=0, **MONEY)

    class Meta:
        indexes = [
            # A supervisor's slice: WHERE agent_id IN (their agents) AND day BETWEEN ? AND ?
            models.Index(fields=["agent", "day"], name="rep_money_agent_idx"),
            # Everything (admins): WHERE day BETWEEN ? AND ?
            models.Index(fields=["day"], name="rep_money_day_idx"),
        ]


class PromiseDaily(FactBase):
    """Promises by the day they were made, who made them, the objective and their status now."""

    day = models.DateField()
    objective = models.CharField(max_length=20, choices=Objective.choices)
    status = models.CharField(max_length=10)
    promises = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(default=0, **MONEY)
    amount_paid = models.DecimalField(default=0, **MONEY)

    class Meta:
        indexes = [
            # A supervisor's slice: WHERE agent_id IN (their agents) AND day BETWEEN ? AND ?
            models.Index(fields=["agent", "day"], name="rep_promise_agent_idx"),
            # Everything (admins): WHERE day BETWEEN ? AND ?
            models.Index(fields=["day"], name="rep_promise_day_idx"),
        ]


class TechniqueDaily(FactBase):
    """One row per day, agent, creditor, technique, objective and excuse category: how many
    interactions used the technique and how many were followed by a promise, a kept promise or
    money within the effect window. ``case_days`` counts each case once per day."""

    day = models.DateField()
    technique = models.ForeignKey("contacts.Technique", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    objective = models.CharField(max_length=20, choices=Objective.choices)
    excuse_category = models.ForeignKey(
        "contacts.ExcuseCategory", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    interactions = models.PositiveIntegerField(default=0)
    case_days = models.PositiveIntegerField(default=0)
    led_promise = models.PositiveIntegerField(default=0)
    led_kept = models.PositiveIntegerField(default=0)
    led_money = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # A supervisor's slice: WHERE agent_id IN (their agents) AND day BETWEEN ? AND ?
            models.Index(fields=["agent", "day"], name="rep_technique_agent_idx"),
            # Everything (admins): WHERE day BETWEEN ? AND ?
            models.Index(fields=["day"], name="rep_technique_day_idx"),
        ]


class ObjectiveMoveDaily(FactBase):
    """Cases that moved from one objective to another, read from the audit trail."""

    day = models.DateField()
    from_objective = models.CharField(max_length=20, choices=Objective.choices)
    to_objective = models.CharField(max_length=20, choices=Objective.choices)
    moves = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # A supervisor's slice: WHERE agent_id IN (their agents) AND day BETWEEN ? AND ?
            models.Index(fields=["agent", "day"], name="rep_objmove_agent_idx"),
            # Everything (admins): WHERE day BETWEEN ? AND ?
            models.Index(fields=["day"], name="rep_objmove_day_idx"),
        ]


class RefusalDaily(FactBase):
    """Contacts the contact policy refused, per day, reason and channel (compliance at a glance).
    Agent and creditor are the case's."""

    day = models.DateField()
    reason = models.CharField(max_length=32)
    channel = models.CharField(max_length=10)
    refusals = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["agent", "day"], name="rep_refusal_agent_idx"),
            models.Index(fields=["day"], name="rep_refusal_day_idx"),
        ]


class PortfolioSnapshot(FactBase):
    """Open cases as of a date (today, and every month end for history): count and balance per
    aging bucket and objective, and the follow-up hygiene figures."""

    as_of = models.DateField()
    bucket = models.CharField(max_length=10)
    objective = models.CharField(max_length=20, choices=Objective.choices)
    cases = models.PositiveIntegerField(default=0)
    balance = models.DecimalField(default=0, **MONEY)
    no_next_step = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["agent"], name="rep_snapshot_agent_idx")]


class RollMonthly(FactBase):
    """Cases open at the end of ``month`` (its first day) in ``from_bucket``, and where they were
    at the end of the next month: another bucket, or ``closed`` (paid or closed)."""

    month = models.DateField()
    from_bucket = models.CharField(max_length=10)
    to_bucket = models.CharField(max_length=10)
    cases = models.PositiveIntegerField(default=0)
    balance = models.DecimalField(default=0, **MONEY)

    class Meta:
        indexes = [models.Index(fields=["agent", "month"], name="rep_roll_agent_idx"), models.Index(fields=["month"], name="rep_roll_month_idx")]


class DailyRollup(models.Model):
    """Company-wide sums of a daily fact table, every agent together, at the grain of one of the
    dashboard's groupings (``source``: ``"attempt:objective"`` is AttemptDaily summed by day,
    creditor and objective). The whole-company view (admins, no team or agent chosen) reads these
    instead of summing a thousand agents' rows; they are rebuilt from the facts with them, so
    the figures are the same sums.

    The grouping's values sit in two integer slots (agent, technique, excuse) and two text slots
    (objective, promise status), in the order ``rollups.ROLLUPS`` names them."""

    source = models.CharField(max_length=40)
    day = models.DateField()
    creditor = models.ForeignKey("cases.Creditor", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    int1 = models.BigIntegerField(null=True)
    int2 = models.BigIntegerField(null=True)
    text1 = models.CharField(max_length=20, blank=True)
    text2 = models.CharField(max_length=20, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    right_party = models.PositiveIntegerField(default=0)
    led_promise = models.PositiveIntegerField(default=0)
    led_kept = models.PositiveIntegerField(default=0)
    led_money = models.PositiveIntegerField(default=0)
    interactions = models.PositiveIntegerField(default=0)
    case_days = models.PositiveIntegerField(default=0)
    promises = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(default=0, **MONEY)
    amount_paid = models.DecimalField(default=0, **MONEY)
    placed_cases = models.PositiveIntegerField(default=0)
    placed_amount = models.DecimalField(default=0, **MONEY)
    payments = models.PositiveIntegerField(default=0)
    collected = models.DecimalField(default=0, **MONEY)

    class Meta:
        indexes = [models.Index(fields=["source", "day", "creditor"], name="rep_rollup_source_idx")]

    def __str__(self) -> str:
        return f"{self.source} {self.day} creditor={self.creditor_id}"


class RebuildState(models.Model):
    """Where the periodic rebuild got to, so a missed run is caught up on the next one.

    ``marks``: the highest id of each watched table (and of the audit trail) when the last
    successful run started; the next run reads what came after. ``running_since``: the claim of
    the run in progress (one at a time)."""

    name = models.CharField(max_length=40, unique=True)
    built_through = models.DateField(null=True)
    finished_at = models.DateTimeField(null=True)
    seconds = models.FloatField(default=0)
    mode = models.CharField(max_length=12, blank=True)
    marks = models.JSONField(default=dict, blank=True)
    steps = models.JSONField(default=dict, blank=True)
    running_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} {self.built_through}"


class TeamPriority(models.Model):
    """What a supervisor wants their team to work first (e.g. the 31–60 bucket). Shown on the
    dashboard and to the team's agents in their statistics."""

    team = models.OneToOneField("accounts.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="priority")
    focus_buckets = models.JSONField(_("focus on aging buckets"), default=list, blank=True)
    focus_objectives = models.JSONField(_("focus on objectives"), default=list, blank=True)
    note = models.CharField(_("note for the team"), max_length=300, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    updated_at = models.DateTimeField(_("updated"))

    class Meta:
        verbose_name = _("team priority")
        verbose_name_plural = _("team priorities")

    def __str__(self) -> str:
        return f"{self.team}: {', '.join(self.focus_buckets)}"

    @property
    def focus_labels(self) -> list[str]:
        """The buckets and objectives to focus on, in words."""
        objectives = dict(Objective.choices)
        return [str(BUCKET_LABELS.get(b, b)) for b in self.focus_buckets] + [str(objectives.get(o, o)) for o in self.focus_objectives]


class ChannelDaily(FactBase):
    """Money, promises and plans per day and the channel they came by (the self-service portal
    among them). A payment from an online checkout is the portal's; anything else counts for the
    channel of the case's latest contact at or before it within the effect window ("none" when
    there was none). Agent and creditor are the case's."""

    day = models.DateField()
    channel = models.CharField(max_length=10)
    payments = models.PositiveIntegerField(default=0)
    collected = models.DecimalField(default=0, **MONEY)
    promises = models.PositiveIntegerField(default=0)
    promised = models.DecimalField(default=0, **MONEY)
    plans = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # A supervisor's slice: WHERE agent_id IN (their agents) AND day BETWEEN ? AND ?
            models.Index(fields=["agent", "day"], name="rep_channel_agent_idx"),
            # Everything (admins): WHERE day BETWEEN ? AND ?
            models.Index(fields=["day"], name="rep_channel_day_idx"),
        ]


class PortalLinkDaily(FactBase):
    """Personal links by the day they were given and where (message, letter, agent): how many,
    how many were opened, and how many converted (after the first opening the case had a portal
    payment, promise or plan). Agent and creditor are the case's."""

    day = models.DateField()
    source = models.CharField(max_length=10)
    issued = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    converted = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["agent", "day"], name="rep_portallink_agent_idx"),
            models.Index(fields=["day"], name="rep_portallink_day_idx"),
        ]
