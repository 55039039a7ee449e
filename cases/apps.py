from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        from collections_crm.accounts import hooks as accounts_hooks
        from debtors import hooks as debtors_hooks

        from .selectors import open_case_count_for_agent
        from .services import debtor_open_cases_replan

        accounts_hooks.open_case_count.answer(open_case_count_for_agent)
        debtors_hooks.debtor_cases_replan.answer(debtor_open_cases_replan)

