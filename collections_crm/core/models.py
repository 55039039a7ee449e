from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """Last time a background component proved it was alive (beat enqueues, the worker runs)."""

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} {self.at:%Y-%m-%d %H:%M:%S}"


class DeferredTask(models.Model):
    """A Celery task that could not be handed to the broker (it was away) when its transaction
    committed. The work it stands for is already in the database; this row only remembers to
    send the task once the broker is back (``core.relay_deferred_tasks``). Ids only, no PII."""

    task_name = models.CharField(max_length=120)
    args = models.JSONField(default=list)
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.task_name}{tuple(self.args)}"
