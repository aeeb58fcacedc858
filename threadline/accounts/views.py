"""Account pages: first-run setup and your own profile. Sign-in, sign-out and
password change are Django's own views with Threadline's templates (see
urls.py)."""

import logging
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from threadline.accounts.forms import ProfileForm, SetupForm
from threadline.accounts.models import SetupToken, User
from threadline.accounts.services import (
    needs_setup,
    redeem_setup_token,
    update_profile,
)
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


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """Your account: your name, your time zone, and the password link."""
    user = cast(User, request.user)
    initial = {"name": user.name, "time_zone": user.time_zone}
    form = ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            update_profile(user, **form.cleaned_data)
        except InvalidInput as error:
            field = error.field if error.field in form.fields else None
            form.add_error(field, error.message)
        else:
            messages.success(request, "Saved.")
            return redirect("accounts:profile")

    status = 400 if form.errors else 200
    context = {"form": form, "tab": "account"}
    return render(request, "accounts/profile.html", context, status=status)
