from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs):  # noqa: ARG002 - refuse every bulk path
        raise PermissionError("The audit log is append-only.")

    def delete(self):
        raise PermissionError("The audit log is append-only.")


class AuditLog(models.Model):
    """One row per change made through a service. Append-only (also enforced by a trigger on
    PostgreSQL). Holds ids and field values, never a free-text representation of a person."""

    at = models.DateTimeField(_("at"), db_index=True)
    # Empty on the engine's rows (replans, sends): indexed only where set (audit_actor_idx).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), on_delete=models.PROTECT, null=True, blank=True, db_index=False
    )
    action = models.CharField(_("action"), max_length=64)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    # Denormalised so a case's timeline reads its audit trail with one indexed query.
    case_id = models.BigIntegerField(_("case"), null=True, blank=True)
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [
            # Object history: WHERE object_type=? AND object_id=? ORDER BY at
            models.Index(fields=["object_type", "object_id", "at"], name="audit_object_idx"),
            # Case timeline: WHERE case_id=? ORDER BY at DESC
            models.Index(fields=["case_id", "-at"], name="audit_case_idx"),
            # A user's actions (and the check that protects a user who acted from deletion)
            models.Index(fields=["actor"], name="audit_actor_idx", condition=Q(actor__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.object_type}#{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit log is append-only.")
