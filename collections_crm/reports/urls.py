from django.urls import path, re_path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("me/", views.my_stats, name="my_stats"),
    path("cases/", views.drill, name="drill"),
    path("cases/reassign/", views.reassign, name="reassign"),
    re_path(r"^export/(?P<name>[a-z_]+)\.(?P<fmt>csv|xlsx)$", views.export, name="export"),
    path("teams/", views.teams, name="teams"),
    path("teams/<int:team_id>/priority/", views.team_priority, name="team_priority"),
    path("teams/members/", views.team_member, name="team_member"),
    path("rebuild/", views.rebuild_now, name="rebuild"),
]
