"""Account pages: first-run setup. Sign-in, sign-out and password change are
Django's own views with Threadline's templates (see urls.py)."""

import logging
from typing import Any

from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from threadline.accounts.forms import SetupForm
from threadline.accounts.models import SetupToken
from threadline.accounts.services import needs_setup, redeem_setup_token
from threadline.errors import InvalidInput, NotAllowed

logger = logging.getLogger(__name__)

AUTH_BACKEND = "django.contrib.auth.backends.ModelBackend"


class SignInView(LoginView):
    """Django's sign-in, telling a first visitor where the setup link is."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["needs_setup"] = needs_setup()
        return context


def setup(request: HttpRequest, token: str) -> HttpResponse:
    """Create the owner account with the one-time link `serve` printed."""
    if not needs_setup() or not _token_is_open(token):
        return render(request, "accounts/setup_done.html", status=410)
    form = SetupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            user = redeem_setup_token(
                token, data["email"], data["password"], name=data["name"]
            )
        except NotAllowed:
            return render(request, "accounts/setup_done.html", status=410)
        except InvalidInput as error:
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
        else:
            login(request, user, backend=AUTH_BACKEND)
            logger.info("First owner account created through the setup link")
            return redirect("web:today")
    return render(request, "accounts/setup.html", {"form": form})


def _token_is_open(token: str) -> bool:
    return SetupToken.objects.filter(token=token, used_at__isnull=True).exists()
