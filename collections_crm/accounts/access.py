"""Who may use a view. Every view in the app states its roles with ``role_required`` (or is
explicitly public with ``login_not_required``); a test walks the URL map to keep it so."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

from .models import Role

ALL_ROLES = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
STAFF_ROLES = (Role.SUPERVISOR, Role.ADMIN)


def user_has_role(user, roles) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.role in roles


def role_required(*roles: str):
    """Allow only users with one of ``roles`` (superusers count as admins). Others get 403;
    anonymous users are sent to the login page by LoginRequiredMiddleware first."""

    roles = tuple(roles)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not user_has_role(request.user, roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.crm_roles = roles  # type: ignore[attr-defined]  # a marker the URL-access tests read
        return wrapped

    return decorator

