from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AdminAreaConfig(AppConfig):
    name = "collections_crm.adminarea"
    label = "adminarea"
    verbose_name = _("Administration")

    def ready(self):
        from collections_crm.accounts.models import Role
        from collections_crm.core.navigation import register_nav

        register_nav("adminarea:templates", _("Templates"), "envelope-paper", (Role.ADMIN,))
        register_nav("adminarea:policies", _("Policies"), "sliders", (Role.ADMIN,))
        register_nav("adminarea:catalogues", _("Catalogues"), "journal-text", (Role.ADMIN,))
