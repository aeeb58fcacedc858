"""Merging two parties loses nothing, and an undo gives both back."""

import csv
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from threadline.errors import Conflict, InvalidInput, NotAllowed, NotFound
from threadline.followups.models import FollowUp
from threadline.followups.services import create_follow_up
from threadline.parties.merging import (
    merge_parties,
    merge_undoable,
    plan_merge,
    surviving_party,
    undo_merge,
)
from threadline.parties.models import (
    ContactPoint,
    Party,
    PartyKind,
    PinnedFact,
    Relationship,
    RelationshipKind,
)
from threadline.parties.services import (
    add_relationship,
    party_version,
    pin_fact,
    remove_contact_point,
    restrict_party,
    set_tags,
    unpin_fact,
    update_party,
)
from threadline.search.services import search_parties
from threadline.threads.models import Thread
from threadline.threads.services import open_thread
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import INTERACTION_KINDS, Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event

pytestmark = pytest.mark.django_db

CASE = Path(__file__).parent / "data" / "csv_merge_duplicates_with_timeline.csv"
KINDS = {
    "call": Kind.CALL,
    "quote": Kind.QUOTE,
    "email": Kind.MESSAGE,
    "booking": Kind.BOOKING,
    "payment": Kind.PAYMENT,
}
# The case's payment row names an invoice but no amount; it pays the quote.
QUOTED = re.compile(r"\((?P<currency>[A-Z]{3}) (?P<amount>[\d.]+)\)")


def case_parties(actor):
    """C1 and C2 from the case, created through the services as two parties
    from two systems, each with its rows' interactions."""
    from threadline.parties.services import create_party

    with CASE.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    parties = {}
    quoted = {}
    for row in rows:
        ref = row["contact_ref"]
        if ref not in parties:
            parties[ref] = create_party(
                actor,
                display_name_text=row["contact_name"],
                emails=[row["contact_email"]],
                phones=[row["contact_phone"]],
                source=f"case-system-{ref}",
                external_id=ref,
            )
        kind = KINDS[row["interaction_type"]]
        match = QUOTED.search(row["summary"])
        if match:
            quoted = match.groupdict()
        payload = {}
        if kind in (Kind.QUOTE, Kind.PAYMENT):
            payload = {"amount": quoted["amount"], "currency": quoted["currency"]}
        if kind == Kind.MESSAGE:
            payload = {"direction": "inbound", "subject": row["summary"]}
        record_event(
            parties[ref],
            kind,
            row["summary"],
            actor=actor,
            occurred_at=dt.datetime.fromisoformat(row["occurred_at"]),
            payload=payload,
        )
    return parties["C1"], parties["C2"]


def interactions(party):
    return list(
        Event.objects.filter(party=party, kind__in=INTERACTION_KINDS)
        .order_by("occurred_at", "id")
        .values_list("kind", "summary")
    )


def snapshot(party, upto):
    """What the party holds; of its timeline, the entries up to event `upto`
    (what the merge and its undo record about themselves stays, as history)."""
    party.refresh_from_db()
    events = Event.objects.filter(party=party, pk__lte=upto).order_by("id")
    return {
        "events": [
            (
                event.public_id,
                event.kind,
                event.summary,
                event.occurred_at,
                event.payload,
            )
            for event in events
        ],
        "points": set(
            ContactPoint.objects.filter(party=party).values_list(
                "public_id", "kind", "raw", "value", "is_primary"
            )
        ),
        "threads": set(Thread.objects.filter(party=party).values_list("public_id")),
        "follow_ups": set(
            FollowUp.objects.filter(party=party).values_list("public_id")
        ),
        "facts": set(PinnedFact.objects.filter(party=party).values_list("public_id")),
        "tags": set(party.tags.values_list("name", flat=True)),
        "fields": (
            party.birthday,
            party.language,
            party.time_zone,
            party.restricted,
            party.archived_at,
            party.merged_into_id,
            party.last_interaction_at,
            party.awaiting_reply_since,
        ),
    }


def test_case_survivor_has_all_five_interactions_in_time_order(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)

    merge_parties(c1, c2, actor)

    assert interactions(c1) == [
        (Kind.CALL, "Intro call"),
        (Kind.QUOTE, "Quote Q-17 sent (EUR 1200)"),
        (Kind.MESSAGE, "Re: Quote Q-17"),
        (Kind.BOOKING, "Service visit booked"),
        (Kind.PAYMENT, "Invoice INV-9 paid"),
    ]
    payment = Event.objects.get(party=c1, kind=Kind.PAYMENT)
    assert Decimal(payment.payload["amount"]) == Decimal("1200.00")


def test_case_nothing_is_left_pointing_at_the_merged_party(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)

    merge_parties(c1, c2, actor)

    c2.refresh_from_db()
    assert c2.merged_into == c1
    assert c2.archived_at is not None
    left = Event.objects.filter(party=c2)
    # Only the record of the merge itself stays with the archived party.
    assert set(left.values_list("kind", flat=True)) == {Kind.MERGE, Kind.PROFILE_CHANGE}
    assert not left.filter(kind__in=INTERACTION_KINDS).exists()
    assert not ContactPoint.objects.filter(party=c2).exists()
    assert not Thread.objects.filter(party=c2).exists()
    assert not FollowUp.objects.filter(party=c2).exists()
    assert not Relationship.objects.filter(from_party=c2).exists()
    assert not Relationship.objects.filter(to_party=c2).exists()


def test_case_same_email_and_phone_are_kept_once_with_both_spellings(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)

    merge = merge_parties(c1, c2, actor)

    points = list(c1.contact_points.values_list("kind", "value", "raw"))
    assert sorted(points) == [
        ("email", "jane@example.com", "jane@example.com"),
        ("phone", "+12025550143", "+1 202-555-0143"),
    ]
    folded = Event.objects.get(party=c1, summary__startswith="Kept once")
    spellings = {change["old"]["raw"] for change in folded.payload["changes"]}
    assert spellings == {"JANE@EXAMPLE.COM", "(202) 555-0143"}
    assert "JANE@EXAMPLE.COM (here as jane@example.com)" in merge.body


def test_case_merge_is_recorded_on_both_with_what_moved(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    c2_events = {str(key) for key in c2.events.values_list("public_id", flat=True)}

    merge = merge_parties(c1, c2, actor)

    assert merge.party == c1
    assert merge.payload["action"] == "merged"
    assert merge.payload["other"] == str(c2.public_id)
    assert set(merge.payload["moved"]["event"]) == c2_events
    absorbed = Event.objects.get(party=c2, kind=Kind.MERGE)
    assert absorbed.payload["action"] == "absorbed"
    assert absorbed.payload["merge"] == str(merge.public_id)
    assert merge.actor_label == staff.display_name


def test_case_undo_gives_back_both_as_they_were(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    upto = Event.objects.order_by("-id").values_list("id", flat=True).first()
    before = (snapshot(c1, upto), snapshot(c2, upto))

    merge = merge_parties(c1, c2, actor)
    undone = undo_merge(merge, actor)

    assert (snapshot(c1, upto), snapshot(c2, upto)) == before
    assert Event.objects.filter(party=c1, pk__gt=upto).exists()
    assert undone.payload["action"] == "undone"
    assert Event.objects.filter(
        party=c2, kind=Kind.MERGE, payload__action="undone"
    ).exists()
    assert not merge_undoable(merge)


def test_second_undo_is_refused_with_a_clear_message(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    merge = merge_parties(c1, c2, actor)
    undo_merge(merge, actor)

    with pytest.raises(InvalidInput, match="already undone"):
        undo_merge(merge, actor)


def test_undo_from_the_absorbed_side_undoes_the_same_merge(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    merge_parties(c1, c2, actor)
    absorbed = Event.objects.get(party=c2, kind=Kind.MERGE)

    undo_merge(absorbed, actor)

    c2.refresh_from_db()
    assert c2.archived_at is None
    assert len(interactions(c2)) == 3


def test_undo_after_a_later_merge_of_the_survivor_is_refused(staff, make_party):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    third = make_party("Jane E.", actor=actor)
    first_merge = merge_parties(c1, c2, actor)
    merge_parties(third, c1, actor)

    with pytest.raises(InvalidInput, match="merged into Jane E. since; undo that"):
        undo_merge(first_merge, actor)
    assert Party.objects.get(pk=c2.pk).archived_at is not None


def test_undo_of_a_merge_entry_read_again_after_a_later_merge_is_refused(
    staff, make_party
):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    third = make_party("Jane E.", actor=actor)
    first_merge = merge_parties(c1, c2, actor)
    merge_parties(third, c1, actor)
    # As a page reads it: the entry now sits on the timeline it was moved to.
    entry = Event.objects.get(pk=first_merge.pk)

    with pytest.raises(InvalidInput, match="merged into Jane E. since; undo that"):
        undo_merge(entry, actor)
    assert Party.objects.get(pk=c2.pk).archived_at is not None


def test_undo_is_safe_after_the_later_merge_is_undone(staff, make_party):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    third = make_party("Jane E.", actor=actor)
    first_merge = merge_parties(c1, c2, actor)
    later = merge_parties(third, c1, actor)
    undo_merge(later, actor)

    undo_merge(first_merge, actor)

    assert len(interactions(c1)) == 2
    assert len(interactions(c2)) == 3
    assert interactions(third) == []


def test_undo_goes_ahead_when_a_moved_contact_point_was_removed_since(
    staff, make_party
):
    actor = Actor.for_user(staff)
    survivor = make_party("Jane Example", emails=["jane@example.com"], actor=actor)
    other = make_party(
        "Jane Example",
        emails=["jane.old@example.com"],
        phones=["+1 202 555 0143"],
        actor=actor,
    )
    record_event(other, Kind.CALL, "Asked for a quote", actor=actor)
    fact = pin_fact(other, actor, "Prefers mornings")
    merge = merge_parties(survivor, other, actor)
    events = Event.objects.count()
    old_email = ContactPoint.objects.get(value="jane.old@example.com")
    remove_contact_point(old_email, actor)
    unpin_fact(PinnedFact.objects.get(pk=fact.pk), actor)

    undone = undo_merge(merge, actor)

    other.refresh_from_db()
    assert other.archived_at is None and other.merged_into is None
    assert list(other.contact_points.values_list("value", flat=True)) == [
        "+12025550143"
    ]
    assert interactions(other) == [(Kind.CALL, "Asked for a quote")]
    fact.refresh_from_db()
    assert fact.party == other and fact.unpinned_at is not None
    assert undone.payload["removed_since"] == {
        "contact_point": [str(old_email.public_id)]
    }
    assert str(old_email.public_id) not in undone.payload["moved"]["contact_point"]
    assert undone.body == (
        "Not moved back, as removed since the merge: 1 contact point "
        "(jane.old@example.com)."
    )
    # Nothing was deleted: the merge, the removal and the undo all stay.
    assert Event.objects.count() > events
    assert Event.objects.filter(pk=merge.pk).exists()
    assert not merge_undoable(merge)


def test_undo_is_refused_while_a_later_merge_holds_what_it_moved(staff, make_party):
    actor = Actor.for_user(staff)
    survivor = make_party("Jane Example", actor=actor)
    other = make_party("Jane Example", emails=["jane.old@example.com"], actor=actor)
    elsewhere = make_party("Jane E.", actor=actor)
    merge = merge_parties(survivor, other, actor)
    # As a later merge would have taken it: only merges move contact points.
    ContactPoint.objects.filter(value="jane.old@example.com").update(party=elsewhere)

    with pytest.raises(InvalidInput, match="a later merge moved them"):
        undo_merge(merge, actor)
    assert Party.objects.get(pk=other.pk).archived_at is not None


def test_viewer_may_not_merge(staff, viewer):
    c1, c2 = case_parties(Actor.for_user(staff))

    with pytest.raises(NotAllowed):
        merge_parties(c1, c2, Actor.for_user(viewer))
    assert Party.objects.get(pk=c2.pk).archived_at is None


def test_staff_may_not_merge_a_party_they_cannot_see(staff, outsider, owner):
    c1, c2 = case_parties(Actor.for_user(staff))
    restrict_party(c2, Actor.for_user(owner), restricted=True, users=[staff])

    with pytest.raises(NotFound):
        merge_parties(c1, c2, Actor.for_user(outsider))
    assert Party.objects.get(pk=c2.pk).archived_at is None


def test_a_stale_page_is_refused(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)
    seen = party_version(c2)
    update_party(c2, actor, language="fr")

    with pytest.raises(Conflict, match="changed by someone"):
        merge_parties(
            c1, c2, actor, survivor_version=party_version(c1), other_version=seen
        )
    assert Party.objects.get(pk=c2.pk).archived_at is None


def test_a_person_and_an_organisation_are_not_merged(staff, make_party):
    actor = Actor.for_user(staff)
    person = make_party("Acme", actor=actor)
    company = make_party("Acme", kind=PartyKind.ORGANISATION, actor=actor)

    with pytest.raises(InvalidInput, match="Acme is an organisation and Acme a person"):
        merge_parties(person, company, actor)


def test_empty_fields_are_filled_and_emptied_again_by_undo(staff, make_party):
    actor = Actor.for_user(staff)
    survivor = make_party("Jane Example", language="en", actor=actor)
    other = make_party(
        "Jane Example",
        language="fr",
        time_zone="Europe/Paris",
        birthday=dt.date(1980, 5, 17),
        actor=actor,
    )

    merge = merge_parties(survivor, other, actor)
    survivor.refresh_from_db()
    assert survivor.language == "en"
    assert survivor.time_zone == "Europe/Paris"
    assert survivor.birthday == dt.date(1980, 5, 17)

    update_party(survivor, actor, time_zone="Europe/London")
    undo_merge(merge, actor)
    survivor.refresh_from_db()
    assert survivor.birthday is None
    # Changed by a person after the merge, so the undo leaves it.
    assert survivor.time_zone == "Europe/London"


def test_do_not_contact_wins(staff, make_party):
    actor = Actor.for_user(staff)
    survivor = make_party("Jane Example", consent="granted", actor=actor)
    other = make_party("Jane Example", consent="denied", actor=actor)

    merge_parties(survivor, other, actor)

    survivor.refresh_from_db()
    assert survivor.consent == "denied"


def test_threads_follow_ups_facts_tags_and_links_move(staff, make_party, now):
    actor = Actor.for_user(staff)
    survivor = make_party("Jane Example", tags=["vip"], actor=actor)
    other = make_party("Jane Example", tags=["vip", "commercial"], actor=actor)
    acme = make_party("Acme", kind=PartyKind.ORGANISATION, actor=actor)
    thread = open_thread(other, actor, "quote", "Kitchen quote")
    follow_up = create_follow_up(
        other, actor, "Call back", now + dt.timedelta(days=1), staff
    )
    fact = pin_fact(other, actor, "Prefers mornings")
    works = add_relationship(other, acme, actor, RelationshipKind.WORKS_AT)
    between = add_relationship(other, survivor, actor, RelationshipKind.REFERRED_BY)
    add_relationship(survivor, acme, actor, RelationshipKind.WORKS_AT)

    merge_parties(survivor, other, actor)

    for row in (thread, follow_up, fact):
        row.refresh_from_db()
        assert row.party == survivor
    assert set(survivor.tags.values_list("name", flat=True)) == {"vip", "commercial"}
    # The survivor already works at Acme: the same link is not made twice.
    works.refresh_from_db()
    assert works.from_party == other
    assert (
        survivor.relationships_out.filter(kind=RelationshipKind.WORKS_AT).count() == 1
    )
    # A link between the two would now link the survivor to itself.
    between.refresh_from_db()
    assert between.from_party == other
    assert not Relationship.objects.filter(from_party=survivor, to_party=survivor)


def test_restriction_the_stricter_wins_and_undo_lifts_it(
    staff, other_staff, owner, make_party
):
    actor = Actor.for_user(owner)
    survivor = make_party("Jane Example", actor=actor)
    other = make_party("Jane Example", actor=actor)
    restrict_party(other, actor, restricted=True, users=[staff])

    merge = merge_parties(survivor, other, actor)

    survivor.refresh_from_db()
    assert survivor.restricted
    assert set(survivor.allowed_users.all()) == {staff, owner}
    assert not Party.objects.visible_to(other_staff).filter(pk=survivor.pk).exists()
    assert "people named on either customer" in merge.body

    undo_merge(merge, actor)
    survivor.refresh_from_db()
    other.refresh_from_db()
    assert not survivor.restricted
    assert not survivor.allowed_users.exists()
    assert other.restricted
    assert set(other.allowed_users.all()) == {staff, owner}


def test_merge_that_would_hide_open_work_is_refused(
    staff, other_staff, owner, make_party, now
):
    actor = Actor.for_user(owner)
    survivor = make_party("Jane Example", actor=actor)
    other = make_party("Jane Example", actor=actor)
    restrict_party(survivor, actor, restricted=True, users=[staff])
    create_follow_up(other, actor, "Ring back", now + dt.timedelta(days=1), other_staff)

    with pytest.raises(InvalidInput, match="Sasha Staff would lose sight"):
        merge_parties(survivor, other, actor)
    assert Party.objects.get(pk=other.pk).archived_at is None
    assert FollowUp.objects.get().party_id == other.pk


def test_derived_fields_and_search_follow_the_merge(staff, make_party, now):
    actor = Actor.for_user(staff)
    survivor = make_party("Jane Example", actor=actor)
    other = make_party(
        "Jane Example", emails=["jane.work@acme-example.com"], actor=actor
    )
    record_event(
        other,
        Kind.MESSAGE,
        "Where is my quote?",
        actor=actor,
        payload={"direction": "inbound"},
    )

    merge_parties(survivor, other, actor)

    survivor.refresh_from_db()
    assert survivor.last_interaction_at is not None
    assert survivor.awaiting_reply_since is not None
    assert list(search_parties(staff, "jane.work@acme-example.com")) == [survivor]


def test_a_merged_party_leads_to_its_survivor(staff, make_party):
    actor = Actor.for_user(staff)
    first = make_party("Jane Example", actor=actor)
    second = make_party("Jane Example", actor=actor)
    third = make_party("Jane Example", actor=actor)
    merge_parties(second, first, actor)
    merge_parties(third, second, actor)

    assert surviving_party(first.public_id) == third
    assert surviving_party(third.public_id) == third


def test_plan_counts_what_would_move(staff):
    actor = Actor.for_user(staff)
    c1, c2 = case_parties(actor)

    plan = plan_merge(c1, c2)

    assert plan.events == c2.events.count()
    assert len(plan.points_same) == 2
    assert plan.points_moved == []


def test_tags_are_set_back_on_undo(staff, make_party):
    actor = Actor.for_user(staff)
    survivor = make_party("Jane Example", tags=["vip"], actor=actor)
    other = make_party("Jane Example", actor=actor)
    set_tags(other, actor, ["vip", "garden"])

    merge = merge_parties(survivor, other, actor)
    undo_merge(merge, actor)

    assert set(survivor.tags.values_list("name", flat=True)) == {"vip"}
    assert set(other.tags.values_list("name", flat=True)) == {"vip", "garden"}


def test_importing_a_merged_row_again_adds_to_the_survivor(staff, tmp_path):
    from threadline.transfer.importer import import_path

    path = tmp_path / "contacts.csv"
    path.write_text(
        "id,Name,Email\nC2,Jane Example,jane.example@example-firm.com\n",
        encoding="utf-8",
    )
    import_path(path)
    imported = Party.objects.get(external_id="id:C2")
    survivor = create_party_for_test(staff)
    merge_parties(survivor, imported, Actor.for_user(staff))

    path.write_text(
        "id,Name,Email,Phone\n"
        "C2,Jane Example,jane.example@example-firm.com,+1 202 555 0143\n",
        encoding="utf-8",
    )
    import_path(path)

    assert not ContactPoint.objects.filter(party=imported).exists()
    assert survivor.contact_points.filter(value="+12025550143").exists()
    assert Party.objects.filter(display_name="Jane Example").count() == 2


def create_party_for_test(staff):
    from threadline.parties.services import create_party

    return create_party(Actor.for_user(staff), display_name_text="Jane Example")


def test_a_party_merged_meanwhile_is_not_merged_again(staff, make_party):
    actor = Actor.for_user(staff)
    first = make_party("Jane Example", actor=actor)
    second = make_party("Jane Example", actor=actor)
    stale_copy = Party.objects.get(pk=second.pk)
    merge_parties(first, second, actor)
    third = make_party("Jane Example", actor=actor)

    with pytest.raises((InvalidInput, NotFound)):
        merge_parties(third, stale_copy, actor)
    assert Party.objects.get(pk=second.pk).merged_into == first
