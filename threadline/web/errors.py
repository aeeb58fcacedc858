"""Turning the errors services raise into HTTP answers, in one place."""

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from threadline.errors import InvalidInput, NotAllowed, NotFound

logger = logging.getLogger(__name__)

View = Callable[..., HttpResponse]


def staff_view(view: View) -> View:
    """Require a signed-in user; answer NotFound with 404, NotAllowed with 403."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(error.message) from error
        except NotAllowed as error:
            logger.debug("Refused %s %s: %s", request.method, request.path, error)
            raise PermissionDenied(error.message) from error

    return login_required(wrapped)


def add_service_error(form: forms.Form, error: InvalidInput) -> None:
    """Show a service's InvalidInput beside the field it names, or on top."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
