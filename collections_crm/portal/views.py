"""The debtor's self-service pages (/p/…). (Being written.)"""

from django.contrib.auth.decorators import login_not_required
from django.http import Http404


@login_not_required
def start(request, **kwargs):
    raise Http404


@login_not_required
def open_link(request, **kwargs):
    raise Http404


@login_not_required
def verify(request, **kwargs):
    raise Http404


@login_not_required
def ended(request, **kwargs):
    raise Http404


@login_not_required
def leave(request, **kwargs):
    raise Http404


@login_not_required
def home(request, **kwargs):
    raise Http404


@login_not_required
def case_detail(request, **kwargs):
    raise Http404


@login_not_required
def pay(request, **kwargs):
    raise Http404


@login_not_required
def promise(request, **kwargs):
    raise Http404


@login_not_required
def plan(request, **kwargs):
    raise Http404


@login_not_required
def documents(request, **kwargs):
    raise Http404


@login_not_required
def statement_pdf(request, **kwargs):
    raise Http404


@login_not_required
def dispute(request, **kwargs):
    raise Http404


@login_not_required
def preferences(request, **kwargs):
    raise Http404


@login_not_required
def payment_return(request, **kwargs):
    raise Http404


@login_not_required
def payment_cancel(request, **kwargs):
    raise Http404


@login_not_required
def sandbox_checkout(request, **kwargs):
    raise Http404

