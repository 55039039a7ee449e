from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from collections_crm.accounts.models import Role

# (url name, label, icon, roles). The navigation shows each role only what it may use; the
# views check again (role_required), so hiding is convenience, not security.
NAV_ITEMS: list[tuple[str, object, str, tuple[str, ...]]] = [
    ("home", _("Home"), "house", (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)),
]


def register_nav(url_name: str, label, icon: str, roles: tuple[str, ...]) -> None:
    """Apps add their entries from AppConfig.ready()."""
    if all(item[0] != url_name for item in NAV_ITEMS):
        NAV_ITEMS.append((url_name, label, icon, roles))


def navigation(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {"nav_items": []}
    role = Role.ADMIN if user.is_superuser else user.role
    items = [
        {"url": reverse(name), "label": label, "icon": icon, "active": request.path == reverse(name)}
        for name, label, icon, roles in NAV_ITEMS
        if role in roles
    ]
    return {"nav_items": items}
