from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImportsConfig(AppConfig):
    name = "collections_crm.imports"
    label = "imports"
    verbose_name = _("Imports")

    def ready(self) -> None:
        from collections_crm.accounts.models import Role
        from collections_crm.core.navigation import register_nav

        register_nav("imports:list", _("Imports"), "cloud-upload", (Role.ADMIN,))
