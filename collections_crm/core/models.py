from __future__ import annotations

from django.db import models


class Heartbeat(models.Model):
    """Last time a background component proved it was alive (beat enqueues, the worker runs)."""

    name = models.CharField(max_length=40, unique=True)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} {self.at:%Y-%m-%d %H:%M:%S}"
