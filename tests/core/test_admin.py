"""Django's admin shows domain data read-only (collections_crm.core.admin)."""

from __future__ import annotations

import pytest

from collections_crm.accounts.models import Role

pytestmark = pytest.mark.django_db


def test_django_admin_shows_domain_data_read_only(client, case):
    from collections_crm.accounts.models import User

    root = User.objects.create_superuser(username="root", password="x-very-long-password", role=Role.ADMIN)
    client.force_login(root)
    assert client.get("/django-admin/cases/case/").status_code == 200
    assert client.get(f"/django-admin/cases/case/{case.pk}/change/").status_code == 200  # view only
    response = client.post(f"/django-admin/cases/case/{case.pk}/change/", {"balance": "1.00"})
    assert response.status_code == 403
    assert client.get("/django-admin/debtors/debtor/add/").status_code == 403
    assert client.post(f"/django-admin/accounts/user/{root.pk}/delete/", {"post": "yes"}).status_code == 403
    case.refresh_from_db()
    assert case.balance != 1
