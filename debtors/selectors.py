"""Reads about debtors."""

from __future__ import annotations

from django.http import Http404

from .models import Debtor


def debtor_get(*, debtor_id: int) -> Debtor:
    debtor = Debtor.objects.filter(pk=debtor_id).first()
    if debtor is None:
        raise Http404
    return debtor
