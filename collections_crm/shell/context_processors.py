from __future__ import annotations

from django.urls import reverse

from collections_crm.accounts.models import Role
from collections_crm.core.navigation import NAV_ITEMS


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
