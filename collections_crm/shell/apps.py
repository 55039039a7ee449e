from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShellConfig(AppConfig):
    name = "collections_crm.shell"
    label = "shell"
    verbose_name = "UI shell"

    def ready(self):
        from collections_crm.accounts.access import ALL_ROLES
        from collections_crm.core.navigation import NAV_ITEMS

        # Home comes first, whatever the order the apps were loaded in.
        if all(item[0] != "home" for item in NAV_ITEMS):
            NAV_ITEMS.insert(0, ("home", _("Home"), "house", ALL_ROLES))
