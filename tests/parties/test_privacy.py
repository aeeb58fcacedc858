"""Data-protection requests: export everything about a person, erase it."""

import datetime as dt
import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from threadline.accounts.models import User
from threadline.brief.rendering import brief_as_text
from threadline.brief.services import compute_brief
from threadline.errors import InvalidInput, NotAllowed
from threadline.followups.models import FollowUp
from threadline.followups.services import create_follow_up
from threadline.parties.merging import merge_parties
from threadline.parties.models import (
    Consent,
    FactCategory,
    Party,
    PartyKind,
    Relationship,
    RelationshipKind,
)
from threadline.parties.privacy import (
    ERASED,
    erase_person,
    erased_name,
    export_person,
    write_person_export,
)
from threadline.parties.services import (
    add_relationship,
    create_party,
    pin_fact,
    update_party,
)
from threadline.search.models import SearchTerm
from threadline.search.services import search_parties
from threadline.threads.models import Thread
from threadline.threads.services import open_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import correct_event, record_event
from threadline.transfer.archive import export_archive

# Everything personal the record below holds about Jane, as it could show up
# in a database row: names, contact points in every stored form, free text.
PERSONAL = [
    "Jane",
    "Émile",
    "emile",
    "jane.emile@example.com",
    "4155550134",
    "415 555 0134",
    "Lark Lane",
    "1980-05-17",
    "mornings",
    "Spaniel",
    "combi",
]


@pytest.fixture
def jane(owner: User, staff: User) -> Party:
    """A person with something personal in every part of the record."""
    actor = Actor.for_user(owner)
    party = create_party(
        actor,
        given_name="Jane",
        family_name="Émile",
        emails=["Jane.Emile@example.com"],
        phones=["+1 415 555 0134"],
        addresses=["7 Lark Lane, Springfield"],
        tags=["spaniel owner"],
        owner=staff,
        birthday=dt.date(1980, 5, 17),
        contact_hours="mornings only",
    )
    Party.objects.filter(pk=party.pk).update(
        photo=b"\x89PNG....", photo_type="image/png"
    )
    party.refresh_from_db()
    update_party(party, actor, given_name="Janey")
    pin_fact(party, actor, "Spaniel in the garden", FactCategory.PREFERENCE)
    thread = open_thread(party, actor, "quote", "Combi boiler for Jane")
    call, _ = record_event(
        party,
        Kind.CALL,
        "Jane asked about a combi",
        actor=actor,
        payload={"direction": "inbound"},
        body="Call Jane on 415 555 0134 in the mornings",
        thread=thread,
    )
    correct_event(call, actor=actor, summary="Jane asked about a combi boiler")
    record_event(
        party,
        Kind.MESSAGE,
        "Email from Jane",
        actor=actor,
        payload={"direction": "inbound", "subject": "Combi at 7 Lark Lane"},
    )
    record_event(
        party,
        Kind.BOOKING,
        "Survey",
        actor=actor,
        payload={"site": "7 Lark Lane", "starts_at": "2026-01-05T09:00:00+00:00"},
    )
    record_event(
        party,
        Kind.QUOTE,
        "Quote for Jane",
        actor=actor,
        payload={"amount": "450.00", "currency": "EUR"},
    )
    create_follow_up(
        party, actor, "Ring Jane back", timezone.now() + dt.timedelta(days=1), staff
    )
    return party


@pytest.fixture
def acme(owner: User, jane: Party) -> Party:
    actor = Actor.for_user(owner)
    company = create_party(
        actor, kind=PartyKind.ORGANISATION, display_name_text="Rosewood Plumbing"
    )
    add_relationship(jane, company, actor, RelationshipKind.WORKS_AT, role="Buyer")
    return company


def test_export_holds_every_part_of_the_record(
    jane: Party, acme: Party, owner: User
) -> None:
    document = export_person(jane, Actor.for_user(owner))

    assert set(document["about"]) >= {"person", "events", "follow_ups"}
    assert document["person"]["given_name"] == "Janey"
    assert document["person"]["birthday"] == dt.date(1980, 5, 17)
    assert document["person"]["photo_base64"]
    kinds = {point["kind"] for point in document["contact_points"]}
    assert kinds == {"email", "phone", "address"}
    assert document["relationships"][0]["other_party"] == "Rosewood Plumbing"
    assert document["pinned_facts"][0]["text"] == "Spaniel in the garden"
    assert document["tags"] == ["spaniel owner"]
    assert document["threads"][0]["title"] == "Combi boiler for Jane"
    assert document["follow_ups"][0]["summary"] == "Ring Jane back"
    events = document["events"]
    assert len(events) == Event.objects.filter(party=jane).count()
    superseded = [event for event in events if event["superseded"]]
    assert [event["summary"] for event in superseded] == ["Jane asked about a combi"]


def test_export_is_readable_json(jane: Party, owner: User) -> None:
    stream = StringIO()

    write_person_export(jane, Actor.for_user(owner), stream)

    document = json.loads(stream.getvalue())
    assert document["person"]["family_name"] == "Émile"
    assert "\n  " in stream.getvalue()


@pytest.mark.parametrize("who", ["staff", "viewer"])
def test_only_owners_and_managers_answer_requests(
    jane: Party, who: str, request: pytest.FixtureRequest
) -> None:
    actor = Actor.for_user(request.getfixturevalue(who))

    with pytest.raises(NotAllowed):
        export_person(jane, actor)
    with pytest.raises(NotAllowed):
        erase_person(jane, actor, "Asked by email")

    assert Party.objects.get(pk=jane.pk).given_name == "Janey"


def test_erasure_leaves_nothing_personal_in_the_database(
    jane: Party, acme: Party, manager: User, tmp_path: Path
) -> None:
    erase_person(jane, Actor.for_user(manager), "Asked by email on 3 March")

    export_archive(tmp_path / "archive")
    text = "\n".join(
        path.read_text(encoding="utf-8").lower()
        for path in (tmp_path / "archive").iterdir()
    )
    found = [word for word in PERSONAL if word.lower() in text]
    assert found == []


def test_erasure_reaches_records_merged_into_the_person(
    jane: Party, owner: User, tmp_path: Path
) -> None:
    actor = Actor.for_user(owner)
    copy = create_party(
        actor, display_name_text="Jane Emile", emails=["jane.emile@example.com"]
    )
    merge_parties(jane, copy, actor)

    counts = erase_person(jane, actor, "Asked by email on 3 March")

    assert counts["merged_records"] == 1
    assert Party.objects.get(pk=copy.pk).display_name == erased_name(copy)
    export_archive(tmp_path / "archive")
    text = "\n".join(
        path.read_text(encoding="utf-8").lower()
        for path in (tmp_path / "archive").iterdir()
    )
    assert [word for word in PERSONAL if word.lower() in text] == []


def test_erasure_keeps_a_shell_and_other_records(
    jane: Party, acme: Party, manager: User
) -> None:
    events_before = Event.objects.filter(party=jane).count()
    acme_events = Event.objects.filter(party=acme).count()

    erase_person(jane, Actor.for_user(manager), "Asked by email on 3 March")

    shell = Party.objects.get(pk=jane.pk)
    assert (
        shell.display_name
        == erased_name(jane)
        == (f"Erased person {str(jane.public_id)[:8]}")
    )
    assert shell.given_name == shell.family_name == ""
    assert shell.birthday is None and shell.photo is None
    assert shell.consent == Consent.DENIED
    assert not shell.contact_points.exists()
    assert not shell.tags.exists()
    assert not SearchTerm.objects.filter(party=shell).exists()
    assert Event.objects.filter(party=jane).count() == events_before + 1
    assert set(
        Event.objects.filter(party=jane)
        .exclude(kind=Kind.ERASURE)
        .values_list("summary", flat=True)
    ) == {ERASED}
    fact = shell.pinned_facts.get()
    assert fact.text == ERASED and fact.unpinned_at is not None
    assert Thread.objects.get(party=jane).title == ERASED
    assert FollowUp.objects.get(party=jane).summary == ERASED
    # Other customers keep their entries and links, naming the shell.
    assert Event.objects.filter(party=acme).count() == acme_events
    link = Relationship.objects.get(to_party=acme)
    assert link.from_party_id == jane.pk and link.role == "Buyer"
    linked = Event.objects.filter(party=acme, summary__startswith="Linked").get()
    assert erased_name(jane) in linked.summary
    assert Party.objects.get(pk=acme.pk).display_name == "Rosewood Plumbing"


def test_the_erasure_is_recorded_without_personal_data(
    jane: Party, manager: User
) -> None:
    counts = erase_person(jane, Actor.for_user(manager), "Asked by email, 3 March")

    erasure = Event.objects.get(party=jane, kind=Kind.ERASURE)
    assert erasure.payload == {"reason": "Asked by email, 3 March", "erased": counts}
    assert erasure.actor_user == manager
    assert counts["contact_points"] == 3 and counts["pinned_facts"] == 1
    assert "Jane" not in json.dumps(erasure.payload) + erasure.summary


def test_amounts_and_choices_survive_erasure(jane: Party, owner: User) -> None:
    erase_person(jane, Actor.for_user(owner), "Asked in person")

    quote = Event.objects.get(party=jane, kind=Kind.QUOTE)
    assert quote.payload["amount"] == "450.00" and quote.payload["currency"] == "EUR"
    message = Event.objects.get(party=jane, kind=Kind.MESSAGE)
    assert message.payload["subject"] == ERASED
    assert message.payload["direction"] == "inbound"
    assert message.payload["channel"] == "email"
    booking = Event.objects.get(party=jane, kind=Kind.BOOKING)
    assert booking.payload["site"] == ERASED
    assert booking.payload["starts_at"] == "2026-01-05T09:00:00Z"


def test_the_brief_as_of_before_the_erasure_shows_it_erased(
    jane: Party, owner: User
) -> None:
    before = timezone.now()
    erase_person(jane, Actor.for_user(owner), "Asked in person")

    text = brief_as_text(compute_brief(jane, as_of=before)).lower()

    assert [word for word in PERSONAL if word.lower() in text] == []


def test_an_erased_person_cannot_be_found_or_erased_again(
    jane: Party, owner: User
) -> None:
    erase_person(jane, Actor.for_user(owner), "Asked in person")

    assert not search_parties(owner, "Jane").exists()
    with pytest.raises(InvalidInput, match="was erased on"):
        erase_person(jane, Actor.for_user(owner), "Asked again")


def test_erasure_refuses_an_organisation_and_an_empty_reason(
    acme: Party, jane: Party, owner: User
) -> None:
    with pytest.raises(InvalidInput, match="Only a person"):
        erase_person(acme, Actor.for_user(owner), "Asked")
    with pytest.raises(InvalidInput, match="reason"):
        erase_person(jane, Actor.for_user(owner), "   ")

    assert not Event.objects.filter(kind=Kind.ERASURE).exists()


def test_person_command_exports_to_a_new_file(
    jane: Party, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "jane.json"

    call_command("person", "export", "jane.emile@example.com", "--out", str(out))

    assert json.loads(out.read_text())["person"]["given_name"] == "Janey"
    assert str(out) in capsys.readouterr().out
    with pytest.raises(CommandError, match="exists already"):
        call_command("person", "export", "jane.emile@example.com", "--out", str(out))


def test_person_command_erases_with_yes(
    jane: Party, manager: User, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command(
        "person",
        "erase",
        "+1 415 555 0134",
        "--reason",
        "Letter of 3 March",
        "--yes",
        "--as",
        manager.email,
    )

    assert "Erased Janey Émile, now shown as Erased person" in capsys.readouterr().out
    erasure = Event.objects.get(party=jane, kind=Kind.ERASURE)
    assert erasure.actor_user == manager


def test_person_command_asks_before_erasing(
    jane: Party, monkeypatch: pytest.MonkeyPatch, staff: User
) -> None:
    monkeypatch.setattr("sys.stdin", StringIO(""))

    with pytest.raises(CommandError, match="add --yes"):
        call_command("person", "erase", "Janey Émile", "--reason", "Asked")
    with pytest.raises(CommandError, match="Only owners and managers"):
        call_command(
            "person", "erase", "Janey", "--reason", "x", "--yes", "--as", staff.email
        )

    assert not Event.objects.filter(kind=Kind.ERASURE).exists()
