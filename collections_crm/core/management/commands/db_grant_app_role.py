from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from collections_crm.core.dbroles import app_role_grant


class Command(BaseCommand):
    help = "Give the app's database role row access to every table (run as the owner after migrate; PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--role", default="crm_app", help="the role the web app and workers connect as")

    def handle(self, *args, role: str, **options):
        if connection.vendor != "postgresql":
            raise CommandError("Database roles apply to PostgreSQL only.")
        with transaction.atomic():
            statements = app_role_grant(role=role)
        self.stdout.write(f"{len(statements)} grants for role {role}.")
