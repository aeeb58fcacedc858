"""A restricted party is hidden on every path from users without access.

The scenario is the handed case csv_role_denied_timeline_access.csv: Alice
restricts Jane Example's record; Bob, who may see every other customer, must
see nothing of Jane's person, messages, bookings or timeline, wherever he
looks: pages, search, the brief, Today, the command line and the queries that
every list and count is built on.
"""

import csv
import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from threadline.accounts.models import Role, User
from threadline.accounts.services import create_team, set_team_members
from threadline.brief.services import compute_brief
from threadline.followups.models import FollowUp
from threadline.followups.services import create_follow_up
from threadline.parties.models import Party
from threadline.parties.services import (
    add_relationship,
    create_party,
    pin_fact,
    restrict_party,
    update_party,
)
from threadline.search.services import search_parties
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event
from threadline.timeline.services import record_event

pytestmark = pytest.mark.django_db

CASE = Path(__file__).parent / "data" / "csv_role_denied_timeline_access.csv"
ROLES = {"Admin": Role.OWNER, "Restricted": Role.STAFF}


def case_rows() -> list[dict[str, str]]:
    lines = [line for line in CASE.read_text().splitlines() if not line.startswith("#")]
    return list(csv.DictReader(lines))


@pytest.fixture
def world() -> dict[str, object]:
    """Users and records exactly as the case describes them."""
    users: dict[str, User] = {}
    for row in case_rows():
        if row["user"] not in users:
            users[row["user"]] = User.objects.create_user(
                row["user"], "a long pass phrase 1", role=ROLES[row["role"]]
            )
    alice, bob = users["alice@example.com"], users["bob@example.com"]
    actor = Actor.for_user(alice)
    jane = create_party(
        actor,
        display_name_text="Jane Example",
        emails=["jane@example.com"],
        phones=["+1 202 555 0143"],
    )
    update_party(jane, actor, owner=alice, stage="customer")
    records = {
        "M-1": record_event(
            jane,
            "message",
            "Re: Quote Q-17 from jane@example.com",
            actor=actor,
            payload={"direction": "inbound"},
        )[0],
        "E-1": record_event(
            jane,
            "booking",
            "Service visit at Jane Example's",
            actor=actor,
            payload={
                "starts_at": (timezone.now() + dt.timedelta(minutes=5)).isoformat()
            },
        )[0],
        "T-1": record_event(
            jane,
            "payment",
            "Payment INV-9 recorded",
            actor=actor,
            payload={"amount": "90.00", "currency": "EUR", "reference": "INV-9"},
        )[0],
    }
    # Bob takes a follow-up while his team may see Jane, then leaves the team:
    # the follow-up stays his, and must not leak through his Today.
    desk = create_team("Front desk", actor)
    set_team_members(desk, [bob], actor)
    restrict_party(jane, actor, restricted=True, teams=[desk])
    create_follow_up(
        jane, actor, "Chase INV-9", timezone.now() - dt.timedelta(hours=1), bob
    )
    set_team_members(desk, [], actor)
    other = create_party(Actor.for_user(bob), display_name_text="Open Customer")
    return {"users": users, "jane": jane, "records": records, "other": other}


def visible_expectations() -> list[tuple[str, str, str, bool]]:
    return [
        (
            row["user"],
            row["object"],
            row["record_id"],
            row["expected_visible_to_user"] == "yes",
        )
        for row in case_rows()
    ]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("email", "kind", "record_id", "visible"), visible_expectations()
)
def test_every_path_agrees_with_the_case(world, email, kind, record_id, visible):
    user = world["users"][email]
    jane: Party = world["jane"]
    client = signed_in(user)
    text = "Jane Example" if kind == "person" else world["records"][record_id].summary
    party_page = client.get(f"/customers/{jane.public_id}/")

    assert (party_page.status_code == 200) is visible
    assert (text in party_page.content.decode()) is visible
    for query in ("Jane", "jane@example.com", "(202) 555-0143"):
        listing = client.get("/customers/", {"q": query}).content.decode()
        assert ("Jane Example" in listing) is visible, query
        assert (jane in search_parties(user, query)) is visible, query
    assert ("Jane Example" in client.get("/customers/").content.decode()) is visible
    assert (jane in Party.objects.visible_to(user)) is visible
    if kind != "person":
        event = world["records"][record_id]
        assert (event in Event.objects.visible_to(user)) is visible
        tools = client.get(f"/customers/{jane.public_id}/events/{event.public_id}/")
        assert (tools.status_code == 200) is visible


def test_bob_sees_nothing_of_jane_on_today(world):
    bob = world["users"]["bob@example.com"]

    page = signed_in(bob).get("/").content.decode()

    for text in ("Jane Example", "Re: Quote Q-17", "Service visit", "Chase INV-9"):
        assert text not in page
    assert FollowUp.objects.filter(assignee=bob).exists()


def test_alice_sees_jane_on_today(world):
    page = signed_in(world["users"]["alice@example.com"]).get("/").content.decode()

    assert "Jane Example" in page
    assert "Service visit at Jane Example" in page


def test_bob_cannot_write_to_jane_by_any_form(world):
    jane = world["jane"]
    event = world["records"]["T-1"]
    client = signed_in(world["users"]["bob@example.com"])
    base = f"/customers/{jane.public_id}/"
    posts = [
        (base + "log/", {"kind": "note", "summary": "sneaky"}),
        (base + "edit/", {"display_name": "Renamed"}),
        (base + "facts/", {"text": "sneaky", "category": "other"}),
        (base + "contact-points/", {"kind": "email", "raw": "x@example.com"}),
        (base + f"events/{event.public_id}/redact/", {"reason": "sneaky"}),
    ]
    before = Event.objects.count()

    for url, data in posts:
        assert client.post(url, data).status_code == 404, url

    assert Event.objects.count() == before


def test_command_line_hides_jane_from_bob(world):
    bob, alice = world["users"]["bob@example.com"], world["users"]["alice@example.com"]

    with pytest.raises(CommandError, match="No customer matches"):
        command("brief", "Jane Example", "--as", bob.email)
    with pytest.raises(CommandError, match="No customer matches"):
        command("log", "jane@example.com", "note", "sneaky", "--as", bob.email)
    assert "Re: Quote Q-17" in command("brief", "Jane Example", "--as", alice.email)


def test_handover_keeps_the_restriction(world, manager):
    from threadline.accounts.services import hand_over

    alice, bob = world["users"]["alice@example.com"], world["users"]["bob@example.com"]
    hand_over(alice, manager, Actor.for_user(manager))

    assert world["jane"] in Party.objects.visible_to(manager)
    assert world["jane"] not in Party.objects.visible_to(bob)


@pytest.fixture
def linked(world):
    """Paula, whom everyone sees, is linked to Jane's restricted household."""
    alice = Actor.for_user(world["users"]["alice@example.com"])
    household = create_party(
        alice, display_name_text="SECRET Household", kind="household"
    )
    paula = create_party(alice, display_name_text="Paula Public")
    add_relationship(paula, household, alice, "household_member")
    add_relationship(household, paula, alice, "billing_contact_for", role="SECRETROLE")
    pin_fact(household, alice, "SECRETFACT dog bites", "problem")
    restrict_party(household, alice, restricted=True)
    return paula


def test_a_restricted_party_does_not_show_through_a_linked_one(world, linked):
    bob = world["users"]["bob@example.com"]
    client = signed_in(bob)
    pages = [
        client.get(f"/customers/{linked.public_id}/").content.decode(),
        client.get(f"/customers/{linked.public_id}/edit/").content.decode(),
        command("brief", "Paula Public", "--as", bob.email),
        json.dumps(compute_brief(linked, viewer=bob).to_dict()),
    ]

    for page in pages:
        assert "Paula Public" in page
        for secret in ("SECRET Household", "SECRETROLE", "SECRETFACT"):
            assert secret not in page


def test_the_linked_party_still_shows_to_those_with_access(world, linked):
    alice = world["users"]["alice@example.com"]

    page = signed_in(alice).get(f"/customers/{linked.public_id}/").content.decode()

    assert "SECRET Household" in page
    assert "SECRETFACT dog bites" in page


def test_tags_only_on_hidden_customers_are_not_offered(world):
    from threadline.parties.services import set_tags

    alice = Actor.for_user(world["users"]["alice@example.com"])
    set_tags(world["jane"], alice, ["secret-tag"])

    bob_page = signed_in(world["users"]["bob@example.com"]).get("/customers/")
    alice_page = signed_in(world["users"]["alice@example.com"]).get("/customers/")

    assert "secret-tag" not in bob_page.content.decode()
    assert "secret-tag" in alice_page.content.decode()
