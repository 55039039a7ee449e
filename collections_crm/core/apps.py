from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "collections_crm.core"
    label = "core"
    verbose_name = "Core"
