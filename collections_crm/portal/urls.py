from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.start, name="start"),
    path("o/<str:token>/", views.open_link, name="open"),
    path("verify/", views.verify, name="verify"),
    path("ended/", views.ended, name="ended"),
    path("leave/", views.leave, name="leave"),
    path("home/", views.home, name="home"),
    path("case/<int:case_id>/", views.case_detail, name="case"),
    path("case/<int:case_id>/pay/", views.pay, name="pay"),
    path("case/<int:case_id>/promise/", views.promise, name="promise"),
    path("case/<int:case_id>/plan/", views.plan, name="plan"),
    path("case/<int:case_id>/documents/", views.documents, name="documents"),
    path("case/<int:case_id>/statement.pdf", views.statement_download, name="statement"),
    path("case/<int:case_id>/dispute/", views.dispute, name="dispute"),
    path("case/<int:case_id>/preferences/", views.preferences, name="preferences"),
    path("payment/<uuid:public_id>/", views.payment_return, name="payment_return"),
    path("payment/<uuid:public_id>/cancel/", views.payment_cancel, name="payment_cancel"),
    path("sandbox/<uuid:public_id>/", views.sandbox_checkout, name="sandbox_checkout"),
]
