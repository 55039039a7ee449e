from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from cases.choices import Channel, Direction, Objective, Outcome, StatementKind


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
    # True when the excuse means something is missing on our side (opens a barrier).
    is_barrier = models.BooleanField(_("is a payment barrier"), default=False)

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
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
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

