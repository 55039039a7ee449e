"""Admin-owned settings that no other app models: playbooks (seed 004's "unified criteria") and
the payment-plan guardrails. Strategy rules, cadences and contact policies live in contacts/."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.choices import Objective

LANGUAGES = [("es", "Español"), ("en", "English")]


class Playbook(models.Model):
    """Talking points for one objective, optionally narrowed to one excuse category, so that
    similar cases get similar negotiations (seed 004)."""

    objective = models.CharField(_("objective"), max_length=20, choices=Objective.choices)
    excuse_category = models.ForeignKey(
        "contacts.ExcuseCategory", verbose_name=_("excuse category"), on_delete=models.PROTECT,
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
        constraints = [
            models.CheckConstraint(condition=Q(objective__in=Objective.values), name="playbook_objective_valid"),
            # NULL never equals NULL in a unique index, so the generic playbook needs its own.
            models.UniqueConstraint(
                fields=["objective", "excuse_category", "language"], condition=Q(excuse_category__isnull=False),
                name="playbook_unique_per_excuse",
            ),
            models.UniqueConstraint(
                fields=["objective", "language"], condition=Q(excuse_category__isnull=True), name="playbook_unique_generic"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def points(self) -> list[str]:
        return [line.strip(" -•\t") for line in self.talking_points.splitlines() if line.strip(" -•\t")]


class PlanGuardrails(models.Model):
    """What an agent may agree alone. A plan outside these limits needs a supervisor's approval
    (see adminarea.guardrails.plan_needs_approval). A single row, pk=1."""

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
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="guardrails_single_row"),
            models.CheckConstraint(condition=Q(min_instalment__gt=0), name="guardrails_min_instalment_positive"),
            models.CheckConstraint(condition=Q(max_instalments__gte=1), name="guardrails_max_instalments_positive"),
            models.CheckConstraint(condition=Q(max_term_months__gte=1), name="guardrails_term_positive"),
            models.CheckConstraint(
                condition=Q(max_discount_percent__gte=0, max_discount_percent__lte=100), name="guardrails_discount_range"
            ),
        ]

    def __str__(self) -> str:
        return str(_("Payment-plan guardrails"))

    @classmethod
    def current(cls) -> PlanGuardrails:
        return cls.objects.get_or_create(pk=1)[0]
