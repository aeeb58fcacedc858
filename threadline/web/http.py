"""The request as the staff views see it, for the type checker."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from threadline.accounts.models import User


class StaffRequest(HttpRequest):
    """A request behind `staff_view`: signed in, and parsed by django-htmx."""

    # login_required has ruled out AnonymousUser by the time a view runs.
    user: User
    htmx: HtmxDetails
