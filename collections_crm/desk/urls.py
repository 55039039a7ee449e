from django.urls import path

from . import views

app_name = "desk"

urlpatterns = [
    path("", views.case_queue, name="queue"),
    path("next/", views.case_next, name="next"),
    path("plans/", views.plan_inbox, name="plan_inbox"),
    path("<int:case_id>/", views.case_detail, name="detail"),
    path("<int:case_id>/timeline/", views.case_timeline_fragment, name="timeline"),
    path("<int:case_id>/form/<slug:name>/", views.case_action_form, name="action_form"),
    path("<int:case_id>/interaction/", views.case_log_interaction, name="log_interaction"),
    path("<int:case_id>/promise/", views.case_promise, name="promise"),
    path("<int:case_id>/payment/", views.case_payment, name="payment"),
    path("<int:case_id>/plan/preview/", views.case_plan_preview, name="plan_preview"),
    path("<int:case_id>/plan/", views.case_plan, name="plan"),
    path("<int:case_id>/plans/<int:plan_id>/agree/", views.case_plan_agree, name="plan_agree"),
    path("<int:case_id>/plans/<int:plan_id>/cancel/", views.case_plan_cancel, name="plan_cancel"),
    path("<int:case_id>/plans/<int:plan_id>/adjust/", views.case_plan_adjust, name="plan_adjust"),
    path("<int:case_id>/barrier/", views.case_barrier, name="barrier"),
    path("<int:case_id>/barrier/<int:barrier_id>/remove/", views.case_barrier_remove, name="barrier_remove"),
    path("<int:case_id>/followup/", views.case_followup, name="followup"),
    path("<int:case_id>/flag/", views.case_restrict, name="restrict"),
    path("<int:case_id>/reassign/", views.case_reassign, name="reassign"),
    path("<int:case_id>/timezone/", views.case_debtor_timezone, name="debtor_timezone"),
    path("<int:case_id>/identity/", views.case_debtor_identity, name="debtor_identity"),
    path("<int:case_id>/links/new/", views.case_link_issue, name="link_issue"),
    path("<int:case_id>/links/end/", views.case_links_revoke, name="links_revoke"),
    path("<int:case_id>/files/<int:upload_id>/", views.case_upload_download, name="upload_download"),
]
