"""The navigation's entries. Each app adds its own from ``AppConfig.ready()``; the UI shell
(collections_crm.shell) shows each role only what it may use. The views check again
(role_required): hiding an entry is convenience, not security."""

from __future__ import annotations

# (url name, label, icon, role codes)
NAV_ITEMS: list[tuple[str, object, str, tuple[str, ...]]] = []


def register_nav(url_name: str, label, icon: str, roles: tuple[str, ...]) -> None:
    if all(item[0] != url_name for item in NAV_ITEMS):
        NAV_ITEMS.append((url_name, label, icon, tuple(roles)))
