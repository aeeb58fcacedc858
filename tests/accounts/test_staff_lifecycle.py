"""Users: roles, first-run setup, deactivation and handover."""

import datetime as dt

import pytest

from threadline.accounts.services import (
    create_user,
    deactivate_user,
    hand_over,
    issue_setup_token,
    needs_setup,
    redeem_setup_token,
)
from threadline.errors import InvalidInput, NotAllowed
from threadline.followups.models import FollowUp
from threadline.followups.services import create_follow_up
from threadline.parties.services import update_party
from threadline.threads.services import open_thread
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.timeline.services import record_event

pytestmark = pytest.mark.django_db


def test_first_owner_is_created_once_with_the_setup_token():
    assert needs_setup()
    token = issue_setup_token()

    owner = redeem_setup_token(token, "boss@example.com", "a long pass phrase 1")

    assert owner.role == "owner"
    assert not needs_setup()
    with pytest.raises(NotAllowed):
        redeem_setup_token(token, "mallory@example.com", "a long pass phrase 2")


def test_weak_password_and_bad_role_are_refused():
    with pytest.raises(InvalidInput):
        create_user("a@example.com", "short")
    with pytest.raises(InvalidInput, match="not a role"):
        create_user("a@example.com", "a long pass phrase 1", role="admin")


def test_staff_cannot_add_users(staff):
    with pytest.raises(NotAllowed):
        create_user("x@example.com", "a long pass phrase 1", created_by=staff)


def test_deactivated_user_keeps_their_name_on_events(make_party, owner, staff):
    jane = make_party()
    event, _ = record_event(jane, "call", "Boiler", actor=Actor.for_user(staff))

    deactivate_user(staff, Actor.for_user(owner))

    event.refresh_from_db()
    assert event.actor_label == "Sam Staff"
    assert not staff.is_active
    with pytest.raises(NotAllowed):
        record_event(jane, "note", "x", actor=Actor.for_user(staff))


def test_last_owner_cannot_be_deactivated(owner, manager):
    with pytest.raises(InvalidInput, match="at least one active owner"):
        deactivate_user(owner, Actor.for_user(manager))


def test_handover_moves_parties_threads_and_follow_ups_with_events(
    make_party, owner, staff, other_staff, now
):
    jane = make_party()
    actor = Actor.for_user(owner)
    update_party(jane, actor, owner=staff)
    thread = open_thread(jane, actor, "job", "Boiler", owner=staff)
    follow_up = create_follow_up(jane, actor, "Call", now + dt.timedelta(days=1), staff)

    count = hand_over(staff, other_staff, actor)

    jane.refresh_from_db()
    thread.refresh_from_db()
    assert count == 1
    assert jane.owner == other_staff
    assert thread.owner == other_staff
    assert FollowUp.objects.get(pk=follow_up.pk).assignee == other_staff
    handover = Event.objects.get(party=jane, kind="handover")
    assert handover.payload == {
        "from_user": "Sam Staff",
        "to_user": "Sasha Staff",
        "threads": 1,
        "follow_ups": 1,
    }


def test_only_managers_hand_over(staff, other_staff):
    with pytest.raises(NotAllowed):
        hand_over(staff, other_staff, Actor.for_user(staff))


def test_deactivate_command_hands_over_then_deactivates(
    make_party, owner, staff, other_staff
):
    from django.core.management import call_command

    jane = make_party()
    update_party(jane, Actor.for_user(owner), owner=staff)

    call_command("deactivate", staff.email, "--hand-over-to", other_staff.email)

    staff.refresh_from_db()
    jane.refresh_from_db()
    assert not staff.is_active
    assert jane.owner == other_staff


def test_deactivate_command_changes_nothing_on_error(make_party, owner, staff):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("deactivate", staff.email, "--hand-over-to", staff.email)

    staff.refresh_from_db()
    assert staff.is_active


def test_handover_refuses_work_on_customers_the_successor_cannot_see(
    make_party, owner, staff, other_staff, now
):
    from threadline.parties.services import restrict_party

    jane = make_party("Jane Example")
    actor = Actor.for_user(owner)
    create_follow_up(jane, actor, "Call", now + dt.timedelta(days=1), staff)
    restrict_party(jane, actor, restricted=True, users=[staff])

    with pytest.raises(InvalidInput, match="cannot see restricted customers"):
        hand_over(staff, other_staff, actor)

    assert FollowUp.objects.get(party=jane).assignee == staff
