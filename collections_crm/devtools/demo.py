"""Demo users of every role and their teams (idempotent)."""

from __future__ import annotations

from django.db import transaction

from collections_crm.accounts.models import Role, Team, User

DEMO_PASSWORD = "cobros-demo-2026"

# username, first, last, role, team, language
DEMO_USERS = [
    ("admin", "Ana", "Administradora", Role.ADMIN, None, "es"),
    ("supervisor", "Sergio", "Supervisor", Role.SUPERVISOR, None, "es"),
    ("supervisor2", "Sarah", "Lead", Role.SUPERVISOR, None, "en"),
    ("agent", "Lucía", "Gestora", Role.AGENT, "Equipo Norte", "es"),
    ("agent2", "Pablo", "Gestor", Role.AGENT, "Equipo Norte", "es"),
    ("agent3", "Emma", "Collector", Role.AGENT, "Equipo Sur", "en"),
    ("agent4", "Diego", "Gestor", Role.AGENT, "Equipo Sur", "es"),
]
TEAMS = {"Equipo Norte": "supervisor", "Equipo Sur": "supervisor2"}


@transaction.atomic
def ensure_demo_users() -> list[User]:
    users = {}
    for username, first, last, role, _team, lang in DEMO_USERS:
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "role": role, "language": lang,
                      "email": f"{username}@demo.example", "is_staff": role == Role.ADMIN, "is_superuser": role == Role.ADMIN},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        users[username] = user
    for name, supervisor in TEAMS.items():
        team, _ = Team.objects.get_or_create(name=name, defaults={"supervisor": users[supervisor]})
        for username, *_rest in DEMO_USERS:
            spec = next(u for u in DEMO_USERS if u[0] == username)
            if spec[4] == name and users[username].team_id != team.pk:
                users[username].team = team
                users[username].save(update_fields=["team"])
    return list(users.values())
