from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from collections_crm.privacy.services import ANONYMISE_PER_RUN, debtors_anonymise_expired


class Command(BaseCommand):
    help = ("Anonymise the personal data of debtors whose retention period has passed (the beat task "
            "debtors.anonymise_expired does the same every hour).")

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only count the debtors due; change nothing.")
        parser.add_argument("--limit", type=int, default=ANONYMISE_PER_RUN, help="At most this many debtors in this run.")

    def handle(self, *args, **opts):
        summary = debtors_anonymise_expired(now=timezone.now(), limit=max(1, opts["limit"]), dry_run=opts["dry_run"])
        if opts["dry_run"]:
            self.stdout.write(f"{summary['due']} debtors are due for anonymisation (dry run: nothing changed).")
        else:
            self.stdout.write(f"{summary['due']} debtors due: {summary['anonymised']} anonymised, {summary['skipped']} skipped.")
