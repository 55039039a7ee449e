from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "collections_crm.privacy"
    label = "privacy"
    verbose_name = "Data protection"
