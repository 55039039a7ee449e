from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "collections_crm.portal"
    label = "portal"
    verbose_name = "Debtor portal"
