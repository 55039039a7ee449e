"""Celery beat's scheduler, plus a heartbeat: beat writes its own ``Heartbeat`` row while it
ticks, so the health check can tell a stopped beat from a stopped worker (the ``worker`` row is
written by a task that beat sends and a worker runs)."""

from __future__ import annotations

import logging
import time

from celery.beat import PersistentScheduler
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

log = logging.getLogger(__name__)

BEAT_HEARTBEAT_SECONDS = 30.0


class HeartbeatScheduler(PersistentScheduler):
    _next_beat = 0.0

    def tick(self, *args, **kwargs):
        if time.monotonic() >= self._next_beat:
            self._next_beat = time.monotonic() + BEAT_HEARTBEAT_SECONDS
            from .models import Heartbeat

            try:
                close_old_connections()
                Heartbeat.objects.update_or_create(name="beat", defaults={"at": timezone.now()})
            except DatabaseError as error:  # beat keeps scheduling; the health check will tell
                log.warning("beat heartbeat not written (%s)", type(error).__name__)
        # Never sleep past the next heartbeat.
        return min(super().tick(*args, **kwargs), BEAT_HEARTBEAT_SECONDS)
