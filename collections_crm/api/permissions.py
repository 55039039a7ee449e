from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from collections_crm.accounts.access import ALL_ROLES, user_has_role

from .models import ApiToken


class CrmApiPermission(BasePermission):
    """Deny by default. A view names ``read_roles`` and ``write_roles``; a token also needs
    write scope for anything but reads. Object visibility is the selectors' job (404)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        safe = request.method in SAFE_METHODS
        if isinstance(request.auth, ApiToken) and not safe and not request.auth.can_write:
            return False
        roles = getattr(view, "read_roles", ALL_ROLES) if safe else getattr(view, "write_roles", ())
        return user_has_role(user, roles)
