"""Roles, teams, a user's own profile, and deactivation with a handover."""

import pytest

from threadline.accounts.models import Team
from threadline.accounts.services import (
    change_role,
    create_team,
    deactivate_with_handover,
    set_team_members,
    update_profile,
)
from threadline.errors import InvalidInput, NotAllowed
from threadline.parties.services import update_party
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event

pytestmark = pytest.mark.django_db


def test_owner_changes_a_role(owner, staff):
    change_role(staff, "manager", Actor.for_user(owner))

    staff.refresh_from_db()
    assert staff.role == "manager"


def test_manager_cannot_make_an_owner_or_demote_one(owner, manager, staff):
    with pytest.raises(NotAllowed):
        change_role(staff, "owner", Actor.for_user(manager))
    with pytest.raises(NotAllowed):
        change_role(owner, "staff", Actor.for_user(manager))


def test_staff_and_viewers_cannot_change_roles(staff, viewer, other_staff):
    for person in (staff, viewer):
        with pytest.raises(NotAllowed):
            change_role(other_staff, "manager", Actor.for_user(person))


def test_last_owner_keeps_the_role(owner):
    with pytest.raises(InvalidInput, match="at least one active owner"):
        change_role(owner, "manager", Actor.for_user(owner))

    owner.refresh_from_db()
    assert owner.role == "owner"


def test_an_owner_can_step_down_when_another_owner_remains(owner, staff):
    change_role(staff, "owner", Actor.for_user(owner))

    change_role(owner, "manager", Actor.for_user(owner))

    owner.refresh_from_db()
    assert owner.role == "manager"


def test_unknown_role_is_refused(owner, staff):
    with pytest.raises(InvalidInput, match="not a role"):
        change_role(staff, "admin", Actor.for_user(owner))


def test_refused_deactivation_undoes_the_handover(make_party, owner, other_staff):
    jane = make_party()
    update_party(jane, Actor.system("setup"), owner=owner)
    before = Event.objects.filter(party=jane).count()

    with pytest.raises(InvalidInput, match="your own account"):
        deactivate_with_handover(owner, Actor.for_user(owner), other_staff)

    jane.refresh_from_db()
    assert jane.owner == owner
    assert Event.objects.filter(party=jane).count() == before


def test_deactivation_with_handover_moves_the_work(make_party, owner, staff, manager):
    jane = make_party()
    update_party(jane, Actor.system("setup"), owner=staff)

    moved = deactivate_with_handover(staff, Actor.for_user(owner), manager)

    jane.refresh_from_db()
    staff.refresh_from_db()
    assert moved == 1
    assert jane.owner == manager
    assert not staff.is_active


def test_team_is_created_once_per_name(manager):
    create_team("  Night   shift ", Actor.for_user(manager))

    assert Team.objects.get().name == "Night shift"
    with pytest.raises(InvalidInput, match="already a team"):
        create_team("night shift", Actor.for_user(manager))
    with pytest.raises(InvalidInput, match="name"):
        create_team("   ", Actor.for_user(manager))


def test_staff_cannot_create_teams_or_set_members(staff, manager):
    team = create_team("Plumbers", Actor.for_user(manager))

    with pytest.raises(NotAllowed):
        create_team("Electricians", Actor.for_user(staff))
    with pytest.raises(NotAllowed):
        set_team_members(team, [staff], Actor.for_user(staff))


def test_members_are_set_exactly(manager, staff, other_staff):
    team = create_team("Plumbers", Actor.for_user(manager))

    set_team_members(team, [staff, other_staff], Actor.for_user(manager))
    set_team_members(team, [other_staff], Actor.for_user(manager))

    assert list(team.members.all()) == [other_staff]


def test_a_deactivated_user_cannot_join_a_team(owner, manager, staff):
    team = create_team("Plumbers", Actor.for_user(manager))
    deactivate_with_handover(staff, Actor.for_user(owner))

    with pytest.raises(InvalidInput, match="deactivated"):
        set_team_members(team, [staff], Actor.for_user(manager))


def test_profile_keeps_a_real_time_zone_only(staff):
    update_profile(staff, name=" Sam S ", time_zone="Europe/Lisbon")

    staff.refresh_from_db()
    assert (staff.name, staff.time_zone) == ("Sam S", "Europe/Lisbon")
    with pytest.raises(InvalidInput, match="not a time zone"):
        update_profile(staff, name="Sam", time_zone="Mars/Olympus")
