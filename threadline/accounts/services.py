"""Users and teams: creating them, roles, first-run setup, deactivation and
handover, and a user's own profile."""

import logging
import secrets
from collections import Counter
from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from threadline.accounts.models import Role, SetupToken, Team, User
from threadline.errors import InvalidInput, NotAllowed
from threadline.followups.models import FollowUp, FollowUpStatus
from threadline.parties.contact_points import normalise_email
from threadline.parties.models import Party
from threadline.parties.services import user_ref
from threadline.threads.models import OPEN_STATUSES, Thread
from threadline.time_zones import require_time_zone
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.services import record_event

logger = logging.getLogger(__name__)

TEAM_NAME_LENGTH = 100  # Team.name's max_length


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
        _require_access(
            to_user, (thread_counts.keys() | follow_up_counts.keys()) - owned
        )
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


def deactivate_with_handover(
    user: User, actor: Actor, hand_to: User | None = None
) -> int:
    """Hand a user's work to another user, if one is named, and deactivate
    them, in one transaction: when either step is refused, nothing changes.

    Returns how many parties' timelines received a handover event.
    """
    with transaction.atomic():
        moved = hand_over(user, hand_to, actor) if hand_to is not None else 0
        deactivate_user(user, actor)
    return moved


def change_role(user: User, role: str, actor: Actor) -> User:
    """Give a user another role; owners and managers only.

    A manager can neither make anyone an owner nor change an owner's role,
    and the last active owner keeps the role.
    """
    actor.require_manage()
    if role not in Role.values:
        raise InvalidInput(f"{role!r} is not a role.", field="role")
    is_owner_change = Role.OWNER in {role, user.role}
    if is_owner_change and actor.user is not None and actor.user.role != Role.OWNER:
        raise NotAllowed("Only an owner can give or take away the owner role.")
    if user.role == Role.OWNER and role != Role.OWNER and _is_last_owner(user):
        raise InvalidInput("Threadline needs at least one active owner.", field="role")

    old = user.role
    user.role = role
    user.save(update_fields=["role", "updated_at"])
    logger.info("Changed account %s from %s to %s", user.public_id, old, role)
    return user


def update_profile(user: User, *, name: str, time_zone: str) -> User:
    """Change a user's own name and the time zone their pages are shown in."""
    zone = time_zone.strip()
    if zone:
        require_time_zone(zone)

    user.name = name.strip()
    user.time_zone = zone
    user.save(update_fields=["name", "time_zone", "updated_at"])
    logger.debug("Updated the profile of account %s", user.public_id)
    return user


def create_team(name: str, actor: Actor) -> Team:
    """Create an empty team; owners and managers only."""
    actor.require_manage()
    clean = " ".join(name.split())
    if not clean:
        raise InvalidInput("Give the team a name.", field="name")
    if len(clean) > TEAM_NAME_LENGTH:
        raise InvalidInput(
            f"Keep the team's name to {TEAM_NAME_LENGTH} characters.", field="name"
        )
    if Team.objects.filter(name__iexact=clean).exists():
        raise InvalidInput(f"There is already a team called {clean}.", field="name")

    team = Team.objects.create(name=clean)
    logger.info("Created team %s", team.public_id)
    return team


def set_team_members(team: Team, members: Iterable[User], actor: Actor) -> Team:
    """Make exactly these users the team's members; owners and managers only.

    Deactivated users who are already members may stay; no one deactivated
    can join.
    """
    actor.require_manage()
    wanted = list(members)
    current = set(team.members.values_list("pk", flat=True))
    joining = [user for user in wanted if user.pk not in current]
    inactive = [user.display_name for user in joining if not user.is_active]
    if inactive:
        raise InvalidInput(
            f"{', '.join(inactive)} cannot join: deactivated.", field="members"
        )

    team.members.set(wanted)
    logger.info("Set %d members on team %s", len(wanted), team.public_id)
    return team


def _is_last_owner(user: User) -> bool:
    others = User.objects.filter(role=Role.OWNER, is_active=True).exclude(pk=user.pk)
    return user.is_active and not others.exists()


def _require_access(successor: User, party_ids: set[int]) -> None:
    """Refuse to hand work on restricted customers to someone shut out of them
    (owned customers are fine: their new owner sees them)."""
    hidden = (
        Party.objects.filter(pk__in=party_ids, restricted=True)
        .exclude(pk__in=Party.objects.visible_to(successor).values("pk"))
        .order_by("sort_name")
    )
    names = [party.display_name for party in hidden[:5]]
    if names:
        raise InvalidInput(
            f"{successor.display_name} cannot see restricted customers with open "
            f"work to hand over ({', '.join(names)}). Open those customers to "
            f"{successor.display_name} first, or choose someone else."
        )


def _count_by_party(queryset: QuerySet[Thread] | QuerySet[FollowUp]) -> Counter[int]:
    return Counter(queryset.values_list("party_id", flat=True))


# The start of a calendar token finds its user; the whole token is then
# compared in constant time, so response times tell nothing about the rest.
CALENDAR_TOKEN_SELECTOR = 12


def issue_calendar_token(user: User) -> str:
    """Give the user a new calendar feed secret; the old address stops at once."""
    user.calendar_token = secrets.token_urlsafe(32)
    user.save(update_fields=["calendar_token", "updated_at"])
    logger.info("Issued a calendar feed address for account %s", user.public_id)
    return user.calendar_token


def revoke_calendar_token(user: User) -> None:
    """Turn the user's calendar feed off."""
    user.calendar_token = ""
    user.save(update_fields=["calendar_token", "updated_at"])
    logger.info("Turned off the calendar feed of account %s", user.public_id)


def user_for_calendar_token(token: str) -> User | None:
    """The active user whose feed address carries `token`, or None."""
    if len(token) <= CALENDAR_TOKEN_SELECTOR:
        return None
    candidates = User.objects.filter(
        calendar_token__startswith=token[:CALENDAR_TOKEN_SELECTOR]
    )
    for user in candidates:
        if secrets.compare_digest(user.calendar_token, token):
            return user if user.is_active else None
    return None
