"""SMS backends: ``send(to, body, idempotency_key) -> provider id``.

A real provider backend implements the same method and passes the idempotency key to the
provider's API, so that a retried send (a worker killed after the provider accepted the message)
does not reach the phone twice. The file backend below keeps that promise itself.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string


class BaseSMSBackend:
    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        raise NotImplementedError


class ConsoleSMSBackend(BaseSMSBackend):
    """Development: print the message (like Django's console e-mail backend). Outside DEBUG the
    output ends up in the logs, so only the masked recipient and the length are printed."""

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        if settings.DEBUG:
            sys.stdout.write(f"SMS {idempotency_key} to {to}:\n{body}\n{'-' * 40}\n")
        else:
            sys.stdout.write(f"SMS {idempotency_key} to {mask_recipient(to)}: {len(body)} characters\n")
        sys.stdout.flush()
        return f"console:{idempotency_key}"


def mask_recipient(to: str) -> str:
    """``+34612345678`` → ``+34******678``: enough to tell two test phones apart, no more."""
    digits = "".join(c for c in to if c.isdigit())
    if len(digits) < 6:
        return "***"
    head = "+" + digits[:2] if to.startswith("+") else ""
    rest = digits[2:] if head else digits
    return f"{head}{'*' * (len(rest) - 3)}{rest[-3:]}"


class FileSMSBackend(BaseSMSBackend):
    """One JSON file per message under CRM_SMS_FILE_PATH, named by the idempotency key. The
    file is created exclusively, so a second send with the same key finds it and sends nothing."""

    def __init__(self, directory: str | None = None):
        self.directory = Path(directory or settings.CRM_SMS_FILE_PATH)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, idempotency_key: str) -> Path:
        return self.directory / f"{idempotency_key}.json"

    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        path = self.path_for(idempotency_key)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return f"file:{idempotency_key}"  # already sent: the retry is a no-op
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"to": to, "body": body, "key": idempotency_key}, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        return f"file:{idempotency_key}"


def get_sms_backend() -> BaseSMSBackend:
    return import_string(settings.CRM_SMS_BACKEND)()
