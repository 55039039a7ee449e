"""The console SMS backend (contacts.messaging.sms) keeps message bodies out of production output."""

from __future__ import annotations


def test_console_sms_prints_no_body_outside_debug(settings, capsys):
    from contacts.messaging.sms import ConsoleSMSBackend

    settings.DEBUG = False
    ConsoleSMSBackend().send(to="+34612345678", body="Hola Ana, su deuda es de 120 €", idempotency_key="k-1")
    out = capsys.readouterr().out
    assert out == "SMS k-1 to +34******678: 30 characters\n"
    settings.DEBUG = True
    ConsoleSMSBackend().send(to="+34612345678", body="Hola Ana", idempotency_key="k-2")
    assert "Hola Ana" in capsys.readouterr().out  # development shows the message
