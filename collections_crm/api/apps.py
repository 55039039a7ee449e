from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "collections_crm.api"
    label = "api"
    verbose_name = _("REST API")

    def ready(self) -> None:
        from collections_crm.accounts.access import ALL_ROLES
        from collections_crm.core.navigation import register_nav

        from . import schema  # noqa: F401 - registers the token scheme with drf-spectacular

        register_nav("api:docs", _("API"), "braces", ALL_ROLES)
