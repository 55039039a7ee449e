from django.apps import AppConfig


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = "Contacts"

    def ready(self) -> None:
        from cases.hooks import plan_cases

        from . import lookups  # noqa: F401 - registers the ``__any`` lookup
        from .engine.planning import cases_plan

        plan_cases.answer(cases_plan)
