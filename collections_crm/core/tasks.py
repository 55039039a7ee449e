from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from .enqueue import deferred_tasks_relay
from .models import Heartbeat


@shared_task(name="core.heartbeat")
def heartbeat() -> None:
    Heartbeat.objects.update_or_create(name="worker", defaults={"at": timezone.now()})


@shared_task(name="core.relay_deferred_tasks")
def relay_deferred_tasks() -> int:
    return deferred_tasks_relay()
