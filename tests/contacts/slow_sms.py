"""An SMS backend for the worker tests: the real file backend, slowed down before or after the
"provider" accepts the message so that a test can kill the worker in the middle of a send."""

from __future__ import annotations

import os
import time

from contacts.messaging.sms import FileSMSBackend


class SlowFileSMSBackend(FileSMSBackend):
    def send(self, *, to: str, body: str, idempotency_key: str) -> str:
        with open(self.directory / "calls.log", "a", encoding="utf-8") as log:
            log.write(idempotency_key + "\n")
        time.sleep(float(os.environ.get("TEST_SMS_SLEEP_BEFORE", "0")))
        fresh = not self.path_for(idempotency_key).exists()
        result = super().send(to=to, body=body, idempotency_key=idempotency_key)
        if fresh:
            time.sleep(float(os.environ.get("TEST_SMS_SLEEP_AFTER", "0")))
        return result
