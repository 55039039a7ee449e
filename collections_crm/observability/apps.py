from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "collections_crm.observability"
    label = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from .context import connect_celery_signals

        connect_celery_signals()
