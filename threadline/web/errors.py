"""Guarding staff views: sign-in first, and service errors as HTTP answers."""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django_htmx.http import HttpResponseClientRedirect

from threadline.errors import InvalidInput, NotAllowed, NotFound

logger = logging.getLogger(__name__)

# Downloads stream, so a view may answer with any response, not only a page.
View = Callable[..., HttpResponseBase]


def staff_view(view: View) -> View:
    """Require a signed-in user; answer NotFound with 404, NotAllowed with 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return _sign_in_first(request)
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(error.message) from error
        except NotAllowed as error:
            logger.debug("Refused %s %s: %s", request.method, request.path, error)
            raise PermissionDenied(error.message) from error

    return wrapped


def _sign_in_first(request: HttpRequest) -> HttpResponse:
    """Send a signed-out visitor to sign in; under htmx, the whole page goes,
    so an expired session never lands the sign-in form inside a fragment."""
    htmx = getattr(request, "htmx", None)
    if htmx:
        back = urlsplit(htmx.current_url or "/")
        path = back.path + (f"?{back.query}" if back.query else "")
        return HttpResponseClientRedirect(redirect_to_login(path).url)
    return redirect_to_login(request.get_full_path())


def add_service_error(form: forms.Form, error: InvalidInput) -> None:
    """Show a service's InvalidInput beside the field it names, or on top."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
