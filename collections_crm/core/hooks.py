"""Hooks: how a lower layer makes a higher one act without importing it.

A payment (cases) must re-plan the case (the engine, contacts, one layer up). The lower layer
declares a ``Hook`` and calls it; the higher layer answers it once, from its
``AppConfig.ready()``. Unlike a signal, a hook has exactly one answer, named in one place, and
calling a hook nobody answered is an error, so a missing wiring fails loudly instead of silently
doing nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class Hook:
    def __init__(self, name: str) -> None:
        self.name = name
        self._answer: Callable[..., Any] | None = None

    def answer(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """Register the one function that answers this hook (idempotent for the same function)."""
        if self._answer is not None and self._answer is not function:
            raise ImproperlyConfigured(f"The hook {self.name} is already answered by {self._answer.__qualname__}.")
        self._answer = function
        return function

    @property
    def answered(self) -> bool:
        return self._answer is not None

    def __call__(self, **kwargs: Any) -> Any:
        if self._answer is None:
            raise ImproperlyConfigured(f"Nothing answers the hook {self.name}: is the app that answers it installed?")
        return self._answer(**kwargs)

    def __repr__(self) -> str:
        return f"<Hook {self.name}>"
