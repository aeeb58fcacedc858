"""The cast every test can call on, and factories for a small record.

Olivia owns the business, Max manages, Sam and Sasha are staff, Vera may only
read, and Otto is staff who is shut out of restricted customers.
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from threadline.accounts.models import Role, User
from threadline.parties.models import Party
from threadline.parties.services import create_party
from threadline.timeline.actors import Actor

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _plain_static_storage(settings: Any, tmp_path: Any) -> None:
    # Tests render templates without running collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Argon2 is slow by design; the tests check behaviour, not hashing cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _user(email: str, name: str, role: str) -> User:
    return User.objects.create_user(email, PASSWORD, name=name, role=role)


@pytest.fixture
def owner(db: None) -> User:
    return _user("olivia@example.com", "Olivia Owner", Role.OWNER)


@pytest.fixture
def manager(db: None) -> User:
    return _user("max@example.com", "Max Manager", Role.MANAGER)


@pytest.fixture
def staff(db: None) -> User:
    return _user("sam@example.com", "Sam Staff", Role.STAFF)


@pytest.fixture
def other_staff(db: None) -> User:
    return _user("sasha@example.com", "Sasha Staff", Role.STAFF)


@pytest.fixture
def viewer(db: None) -> User:
    return _user("vera@example.com", "Vera Viewer", Role.VIEWER)


@pytest.fixture
def outsider(db: None) -> User:
    return _user("otto@example.com", "Otto Outsider", Role.STAFF)


@pytest.fixture
def make_party(db: None) -> Callable[..., Party]:
    def make(name: str = "Jane Example", **fields: Any) -> Party:
        actor = fields.pop("actor", None) or Actor.system("test setup")
        return create_party(actor, display_name_text=name, **fields)

    return make


@pytest.fixture
def now() -> dt.datetime:
    return timezone.now()
