from django.apps import AppConfig


class DevtoolsConfig(AppConfig):
    name = "collections_crm.devtools"
    label = "devtools"
    verbose_name = "Developer tools"
