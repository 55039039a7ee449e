from django.urls import path

from . import views

app_name = "imports"

urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/progress/", views.import_progress, name="progress"),
    path("<int:pk>/rejected.csv", views.import_report, name="report"),
    path("folders/add/", views.folder_save, name="folder_add"),
    path("folders/<int:pk>/", views.folder_save, name="folder_save"),
    path("folders/<int:pk>/delete/", views.folder_delete, name="folder_delete"),
]
