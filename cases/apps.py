from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        from collections_crm.accounts.models import Role
        from collections_crm.core.navigation import register_nav

        register_nav("cases:queue", _("My queue"), "list-task", (Role.AGENT, Role.SUPERVISOR, Role.ADMIN))
        register_nav("cases:plan_inbox", _("Plans to agree"), "calendar-check", (Role.SUPERVISOR, Role.ADMIN))
