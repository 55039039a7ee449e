"""Every page names its icon, and /favicon.ico (asked for by browsers whatever the page says)
leads to it instead of a 404 (#19)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_favicon_ico_redirects_to_the_static_icon_for_anyone(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302 and response.url == static("favicon.ico")
    assert "max-age" in response["Cache-Control"]
    assert client.head("/favicon.ico").status_code == 302
    assert client.post("/favicon.ico").status_code == 405
    icon = Path(finders.find("favicon.ico")).read_bytes()
    assert icon[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert Path(finders.find("favicon.svg")).read_text().startswith("<svg")


def test_pages_link_their_icon(client, agent):
    login_page = client.get(reverse("login")).content.decode()
    assert f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">' in login_page
    client.force_login(agent)
    home = client.get(reverse("home")).content.decode()
    assert f'href="{static("favicon.ico")}"' in home
    not_found = client.get("/cases/999999/")
    assert not_found.status_code == 404 and 'rel="icon"' in not_found.content.decode()  # base.html as well
