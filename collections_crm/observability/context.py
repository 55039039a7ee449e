"""What a log record belongs to: the request (its id, the user, the case it works on) or the
Celery task (id and name). Held in contextvars, so threads and tasks never see each other's;
``LogContextFilter`` copies them onto every record, where the JSON formatter writes them."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from collections_crm.core.logging import redact

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
user_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("user_id", default=None)
case_id_var: contextvars.ContextVar[int | None] = contextvars.ContextVar("case_id", default=None)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)
task_name_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_name", default=None)

_VARS = {
    "request_id": request_id_var,
    "user_id": user_id_var,
    "case_id": case_id_var,
    "task_id": task_id_var,
    "task_name": task_name_var,
}

# A proxy's or a client's id is kept when it is a plain token (a UUID, a hex or base64url id);
# anything else — too long, odd characters, something that looks like a phone — is replaced.
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")


def request_id_from_header(value: str | None) -> str:
    if value and _SANE_REQUEST_ID.match(value) and redact(value) == value:
        return value
    return uuid.uuid4().hex


class LogContextFilter(logging.Filter):
    """Adds request_id, user_id, case_id, task_id and task_name to every record (None when not
    known, which the JSON formatter leaves out). An attribute the caller set is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _VARS.items():
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


def _task_started(**kwargs) -> None:
    task_id_var.set(kwargs.get("task_id"))
    task_name_var.set(getattr(kwargs.get("task"), "name", None))


def _task_finished(**_kwargs) -> None:
    # A worker process or thread runs one task at a time: clearing is enough.
    task_id_var.set(None)
    task_name_var.set(None)


def connect_celery_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(_task_started, weak=False, dispatch_uid="crm-log-context-prerun")
    task_postrun.connect(_task_finished, weak=False, dispatch_uid="crm-log-context-postrun")
