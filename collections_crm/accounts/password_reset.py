"""Self-service password reset by e-mail: how many reset e-mails a client address and an e-mail
address may ask for, and the reset itself (validated, audited, lockouts cleared).

The answer to a reset request never says whether the address belongs to an account, nor whether a
limit was hit: both show the same "check your inbox" page (Django's behaviour, kept). Over a
limit nothing is sent and a warning without personal data is logged.
"""

from __future__ import annotations

import datetime as dt
import logging

from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from collections_crm.audit.services import audit_record

from . import ratelimit
from .models import User

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60 * 60


def _digest(value: str) -> str:
    # Keyed, so the cache holds neither the e-mail or client address nor a hash anyone could look
    # them up by.
    return salted_hmac("password-reset-limit", value).hexdigest()[:32]


def password_reset_mail_allowed(*, client_ip: str | None, email: str, now: dt.datetime | None = None) -> bool:
    """Count one reset request against its client address and its e-mail address (whether an
    account has it or not, so the limits reveal nothing either) and say whether to send."""
    now = now or timezone.now()
    limits = [("address", _digest(client_ip or "unknown"), settings.PASSWORD_RESET_MAX_PER_ADDRESS),
              ("email", _digest(email.strip().lower()), settings.PASSWORD_RESET_MAX_PER_EMAIL)]
    for kind, subject, limit in limits:
        result = ratelimit.hit(key=f"password_reset_{kind}:{subject}", limit=limit, window=WINDOW_SECONDS,
                               now=now.timestamp())
        if not result.allowed:
            log.warning("Password reset e-mail not sent: more than %d requests this hour for one %s.", limit, kind)
            return False
    return True


def user_password_reset(*, user_id: int, password: str, now: dt.datetime | None = None) -> User:
    """The user sets a new password through a valid reset link: the password rules apply, an
    audit row records it (never the password), and the user's login lockouts are lifted."""
    now = now or timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user_id)
        validate_password(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        audit_record(actor=user, action="user.password_reset", obj=user, after={"via": "email_link"}, at=now)
        axes_reset(username=user.get_username())
    return user
