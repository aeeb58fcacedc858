"""Users: creating them, first-run setup, deactivation and handover."""

import logging
import secrets

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from threadline.accounts.models import Role, SetupToken, User
from threadline.errors import InvalidInput, NotAllowed
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.contact_points import normalise_email
from threadline.parties.models import Party
from threadline.parties.services import user_ref
from threadline.threads.models import OPEN_STATUSES, Thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.services import record_event

logger = logging.getLogger(__name__)


def create_user(
    email: str,
    password: str | None,
    *,
    role: str = Role.STAFF,
    name: str = "",
    created_by: User | None = None,
) -> User:
    """Create a member of staff; raise InvalidInput for a bad email, role or
    password, or an address already in use."""
    if created_by is not None and not created_by.can_manage:
        raise NotAllowed("Only owners and managers can add users.")
    if role not in Role.values:
        raise InvalidInput(
            f"{role!r} is not a role; use owner, manager, staff or viewer.",
            field="role",
        )
    address = normalise_email(email)
    if User.objects.filter(email__iexact=address).exists():
        raise InvalidInput(f"{address} already has an account.", field="email")
    user = User(email=address, name=name.strip(), role=role)
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as error:
            raise InvalidInput(" ".join(error.messages), field="password") from error
    user.set_password(password)
    user.save()
    logger.info("Created %s account %s", role, user.public_id)
    return user


def needs_setup() -> bool:
    return not User.objects.filter(role=Role.OWNER, is_active=True).exists()


def issue_setup_token() -> str:
    """Return a fresh one-time token for creating the first owner."""
    token = secrets.token_urlsafe(24)
    SetupToken.objects.create(token=token)
    return token


def redeem_setup_token(token: str, email: str, password: str, name: str = "") -> User:
    """Create the first owner with a one-time token; the token then expires."""
    with transaction.atomic():
        record = (
            SetupToken.objects.select_for_update()
            .filter(token=token, used_at__isnull=True)
            .first()
        )
        if record is None or not needs_setup():
            raise NotAllowed("This setup link has been used or has expired.")
        user = create_user(email, password, role=Role.OWNER, name=name)
        record.used_at = timezone.now()
        record.save(update_fields=["used_at"])
        SetupToken.objects.filter(used_at__isnull=True).update(used_at=record.used_at)
    return user


def deactivate_user(user: User, actor: Actor) -> User:
    """Stop a user signing in; their name stays on every event they caused."""
    actor.require_manage()
    if actor.user is not None and actor.user.pk == user.pk:
        raise InvalidInput("You cannot deactivate your own account.")
    if (
        user.role == Role.OWNER
        and not User.objects.filter(role=Role.OWNER, is_active=True)
        .exclude(pk=user.pk)
        .exists()
    ):
        raise InvalidInput("Threadline needs at least one active owner.")
    user.is_active = False
    user.deactivated_at = timezone.now()
    user.save(update_fields=["is_active", "deactivated_at", "updated_at"])
    logger.info("Deactivated account %s", user.public_id)
    return user


def hand_over(from_user: User, to_user: User, actor: Actor) -> int:
    """Move a user's parties, open threads and open follow-ups to another user
    in one transaction, recording the handover on each timeline.

    Returns how many parties' timelines received a handover event.
    """
    actor.require_manage()
    if not to_user.is_active:
        raise InvalidInput(f"{to_user.display_name} is deactivated.")
    if from_user.pk == to_user.pk:
        raise InvalidInput("Choose a different person to hand over to.")

    now = timezone.now()
    with transaction.atomic():
        owned = set(Party.objects.filter(owner=from_user).values_list("pk", flat=True))
        threads = Thread.objects.filter(owner=from_user, status__in=OPEN_STATUSES)
        follow_ups = FollowUp.objects.filter(
            assignee=from_user, status=FollowUpStatus.OPEN
        )
        thread_counts = _count_by_party(threads)
        follow_up_counts = _count_by_party(follow_ups)
        Party.objects.filter(pk__in=owned).update(owner=to_user, owner_changed_at=now)
        threads.update(owner=to_user, updated_at=now)
        follow_ups.update(assignee=to_user, updated_at=now)

        affected = owned | thread_counts.keys() | follow_up_counts.keys()
        for party in Party.objects.filter(pk__in=affected):
            record_event(
                party,
                Kind.HANDOVER,
                f"Handed over from {from_user.display_name} to {to_user.display_name}",
                actor=Actor.system(f"handover by {actor.label}"),
                payload={
                    "from_user": from_user.display_name,
                    "to_user": to_user.display_name,
                    "threads": thread_counts.get(party.pk, 0),
                    "follow_ups": follow_up_counts.get(party.pk, 0),
                },
            )
            if party.pk in owned:
                record_event(
                    party,
                    Kind.PROFILE_CHANGE,
                    f"Owner changed to {to_user.display_name}",
                    actor=Actor.system(f"handover by {actor.label}"),
                    payload={
                        "changes": [
                            {
                                "field": "owner",
                                "old": user_ref(from_user),
                                "new": user_ref(to_user),
                            }
                        ]
                    },
                )
    logger.info(
        "Handed over %d parties to account %s", len(affected), to_user.public_id
    )
    return len(affected)


def _count_by_party(queryset: object) -> dict[int, int]:
    counts: dict[int, int] = {}
    for party_id in queryset.values_list("party_id", flat=True):  # type: ignore[attr-defined]
        counts[party_id] = counts.get(party_id, 0) + 1
    return counts
