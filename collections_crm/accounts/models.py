from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    AGENT = "agent", _("Agent")
    SUPERVISOR = "supervisor", _("Supervisor")
    ADMIN = "admin", _("Administrator")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    supervisor = models.ForeignKey(
        "accounts.User",
        verbose_name=_("supervisor"),
        on_delete=models.PROTECT,
        related_name="led_teams",
        null=True,
        blank=True,
    )
    # Whether agents may see (read-only) the cases of their teammates.
    agents_see_team_cases = models.BooleanField(_("agents see team cases"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("team")
        verbose_name_plural = _("teams")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.AGENT)
    team = models.ForeignKey(
        Team, verbose_name=_("team"), on_delete=models.PROTECT, related_name="members", null=True, blank=True
    )
    language = models.CharField(
        _("language"), max_length=8, choices=[("es", "Español"), ("en", "English")], default="es"
    )

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="user_role_valid"),
        ]

    @property
    def is_agent(self) -> bool:
        return self.role == Role.AGENT

    @property
    def is_supervisor(self) -> bool:
        return self.role == Role.SUPERVISOR

    @property
    def is_crm_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser

    def display_name(self) -> str:
        return self.get_full_name() or self.username
