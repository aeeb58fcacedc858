"""Who caused an event: a member of staff, an import, an automation."""

from dataclasses import dataclass

from django.db import models

from threadline.accounts.models import Role, User
from threadline.errors import NotAllowed


class ActorKind(models.TextChoices):
    USER = "user", "Staff"
    TOKEN = "token", "API token"
    IMPORT = "import", "Import"
    AUTOMATION = "automation", "Automation"
    SYSTEM = "system", "System"


@dataclass(frozen=True)
class Actor:
    """The cause of a change, carried through every service call."""

    kind: str
    label: str
    user: User | None = None

    @classmethod
    def for_user(cls, user: User) -> "Actor":
        return cls(kind=ActorKind.USER, label=user.display_name, user=user)

    @classmethod
    def importer(cls, label: str, user: User | None = None) -> "Actor":
        return cls(kind=ActorKind.IMPORT, label=label, user=user)

    @classmethod
    def system(cls, label: str) -> "Actor":
        return cls(kind=ActorKind.SYSTEM, label=label)

    @property
    def sees_everything(self) -> bool:
        """Imports and system jobs act for the business, not for one person."""
        return self.user is None

    def require_write(self) -> None:
        if self.user is None:
            return
        if not self.user.is_active:
            raise NotAllowed(f"{self.label}'s account is deactivated.")
        if self.user.role == Role.VIEWER:
            raise NotAllowed("Viewers can read the record but not change it.")

    def require_manage(self) -> None:
        if self.user is None:
            return
        self.require_write()
        if not self.user.can_manage:
            raise NotAllowed("Only owners and managers can do this.")
