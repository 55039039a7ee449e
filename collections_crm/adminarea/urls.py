from django.urls import path

from . import views

app_name = "adminarea"

urlpatterns = [
    path("", views.home, name="home"),
    path("templates/", views.template_list, name="templates"),
    path("templates/new/", views.template_new, name="template_new"),
    path("templates/<int:template_id>/", views.template_edit, name="template_edit"),
    path("templates/<int:template_id>/preview/", views.template_preview, name="template_preview"),
    path("templates/<int:template_id>/history/", views.template_history, name="template_history"),
    path("templates/<int:template_id>/versions/<int:number>/rollback/", views.template_rollback, name="template_rollback"),
    path("templates/<int:template_id>/toggle/", views.template_toggle, name="template_toggle"),
    path("policies/", views.policies, name="policies"),
    path("policies/rules/", views.rules_edit, name="rules"),
    path("policies/cadences/<int:cadence_id>/", views.cadence_edit, name="cadence_edit"),
    path("policies/packs/new/", views.pack_edit, name="pack_new"),
    path("policies/packs/<int:pack_id>/", views.pack_edit, name="pack_edit"),
    path("policies/guardrails/", views.guardrails_edit, name="guardrails"),
    path("policies/promises/", views.followup_settings_edit, name="followup_settings"),
    path("policies/why/", views.why, name="why"),
    path("policies/export/", views.policies_export, name="policies_export"),
    path("policies/import/", views.policies_import, name="policies_import"),
    path("catalogues/", views.catalogues, name="catalogues"),
    path("catalogues/techniques/new/", views.technique_edit, name="technique_new"),
    path("catalogues/techniques/<int:technique_id>/", views.technique_edit, name="technique_edit"),
    path("catalogues/excuses/new/", views.excuse_edit, name="excuse_new"),
    path("catalogues/excuses/<int:excuse_id>/", views.excuse_edit, name="excuse_edit"),
    path("catalogues/playbooks/new/", views.playbook_edit, name="playbook_new"),
    path("catalogues/playbooks/<int:playbook_id>/", views.playbook_edit, name="playbook_edit"),
    path("users/", views.user_list, name="users"),
    path("users/new/", views.user_new, name="user_new"),
    path("users/<int:user_id>/", views.user_edit, name="user_edit"),
    path("teams/", views.team_list, name="teams"),
    path("teams/new/", views.team_edit, name="team_new"),
    path("teams/<int:team_id>/", views.team_edit, name="team_edit"),
    path("creditors/", views.creditor_list, name="creditors"),
    path("creditors/new/", views.creditor_edit, name="creditor_new"),
    path("creditors/<int:creditor_id>/", views.creditor_edit, name="creditor_edit"),
]
