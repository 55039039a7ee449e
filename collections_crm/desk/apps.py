from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeskConfig(AppConfig):
    name = "collections_crm.desk"
    label = "desk"
    verbose_name = "Agent desk"

    def ready(self) -> None:
        from collections_crm.accounts.models import Role
        from collections_crm.core.navigation import register_nav

        register_nav("desk:queue", _("My queue"), "list-task", (Role.AGENT, Role.SUPERVISOR, Role.ADMIN))
        register_nav("desk:plan_inbox", _("Plans to agree"), "calendar-check", (Role.SUPERVISOR, Role.ADMIN))
