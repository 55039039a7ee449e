"""A textarea with a limit says how much room is left, and says so clearly when a pasted text
reached the limit (the browser cuts the rest), before anything is saved (#19)."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.factories import CaseFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_notes_show_the_characters_left_and_the_limit(page, live_server, screenshot, browser_login, agent):
    case = CaseFactory(assigned_agent=agent)
    limit = settings.CRM_NOTES_MAX_LENGTH
    browser_login(agent)
    page.goto(f"{live_server.url}/cases/{case.pk}/")
    notes = page.locator("#id_notes")
    counter = page.locator("#id_notes-counter")
    assert counter.inner_text() == f"Quedan {limit} caracteres"
    notes.click()
    page.keyboard.type("Hola")
    assert counter.inner_text() == f"Quedan {limit - 4} caracteres"  # es: no grouping under 10 000
    # A paste longer than the limit: the browser keeps the first characters, the page says so.
    page.keyboard.insert_text("x" * (limit + 500))
    assert len(notes.input_value()) == limit
    counter.get_by_text("Límite de").wait_for()
    assert "no se añade" in counter.inner_text() and "text-danger" in (counter.get_attribute("class") or "")
    screenshot("notes-limit")
    page.keyboard.press("Backspace")
    assert counter.inner_text() == "Queda 1 carácter"
    assert notes.get_attribute("aria-describedby").endswith("id_notes-counter")
