from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "collections_crm.reports"
    label = "reports"
    verbose_name = _("Reports")

    def ready(self) -> None:
        from collections_crm.accounts.models import Role
        from collections_crm.core.navigation import register_nav

        register_nav("reports:dashboard", _("Portfolio"), "bar-chart-line", (Role.SUPERVISOR, Role.ADMIN))
        register_nav("reports:teams", _("Teams"), "people", (Role.SUPERVISOR, Role.ADMIN))
        register_nav("reports:my_stats", _("My statistics"), "graph-up", (Role.AGENT,))
