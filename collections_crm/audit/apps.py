from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "collections_crm.audit"
    label = "audit"
    verbose_name = "Audit"
