"""Changing parties: each change is written with its event."""

import pytest

from threadline.errors import InvalidInput, NotAllowed
from threadline.parties.models import ContactKind, Party
from threadline.parties.services import (
    add_contact_point,
    add_relationship,
    create_party,
    end_relationship,
    remove_contact_point,
    set_tags,
    update_party,
)
from threadline.search.services import search_parties
from threadline.timeline.actors import Actor
from threadline.timeline.models import Event

pytestmark = pytest.mark.django_db


def changes_of(party, kind="profile_change"):
    event = Event.objects.filter(party=party, kind=kind).order_by("-id").first()
    return event.payload["changes"]


def test_phone_typed_any_way_is_stored_in_e164_and_found(staff, settings):
    settings.DEFAULT_REGION = "GB"
    actor = Actor.for_user(staff)
    jane = create_party(
        actor, display_name_text="Jane Example", phones=["020 7946 0018"]
    )

    point = jane.contact_points.get()

    assert point.value == "+442079460018"
    assert point.raw == "020 7946 0018"
    for typed in (
        "+44 20 7946 0018",
        "(020) 7946-0018",
        "0044 20 7946 0018",
        "020 79",
        "0018",
    ):
        assert list(search_parties(staff, typed)) == [jane], typed


@pytest.mark.parametrize(
    ("raw", "value", "extension", "dialable"),
    [
        ("+1 202-555-0143 ext. 543", "+12025550143", "543", True),
        ("(415) 555-0178 x204", "+14155550178", "204", True),
        ("+49 30 5550 1234 #12", "+493055501234", "12", True),
        ("+1 202-555-0100,,77", "+12025550100", "77", True),
        ("1047", "1047", "", False),
    ],
)
def test_phone_extensions_are_split_and_internal_lines_kept(
    staff, raw, value, extension, dialable
):
    party = create_party(Actor.for_user(staff), display_name_text="X", phones=[raw])

    point = party.contact_points.get()

    assert (point.value, point.extension, point.dialable, point.raw) == (
        value,
        extension,
        dialable,
        raw,
    )


def test_email_is_case_folded_but_keeps_its_spelling_for_display(staff):
    party = create_party(
        Actor.for_user(staff),
        display_name_text="X",
        emails=[" Jane.Example@Example.COM "],
    )

    point = party.contact_points.get()

    assert point.value == "jane.example@example.com"
    assert point.display == "Jane.Example@Example.COM"


def test_bad_email_is_refused_and_nothing_is_created(staff):
    with pytest.raises(InvalidInput, match="not an email"):
        create_party(Actor.for_user(staff), display_name_text="X", emails=["nope@"])

    assert not Party.objects.exists()


def test_single_names_have_no_stray_words(staff):
    actor = Actor.for_user(staff)

    assert create_party(actor, family_name="Teller").display_name == "Teller"
    assert create_party(actor, given_name="Sukarno").display_name == "Sukarno"
    with pytest.raises(InvalidInput):
        create_party(actor)


def test_update_records_old_and_new_values(make_party, staff, other_staff):
    jane = make_party()

    update_party(
        jane, Actor.for_user(staff), contact_hours="after 3pm", owner=other_staff
    )

    entries = {c["field"]: c for c in changes_of(jane)}
    assert entries["contact_hours"] == {
        "field": "contact_hours",
        "old": "",
        "new": "after 3pm",
    }
    assert entries["owner"]["new"]["name"] == "Sasha Staff"
    assert jane.owner_changed_at is not None


def test_stage_change_is_its_own_event(make_party, staff):
    jane = make_party()

    update_party(jane, Actor.for_user(staff), stage="customer")

    assert changes_of(jane, "stage_change") == [
        {"field": "stage", "old": "lead", "new": "customer"}
    ]


def test_invalid_update_changes_nothing(make_party, staff):
    jane = make_party()
    events = Event.objects.count()

    with pytest.raises(InvalidInput):
        update_party(jane, Actor.for_user(staff), stage="champion")
    with pytest.raises(InvalidInput):
        update_party(jane, Actor.for_user(staff), time_zone="Mars/Olympus")

    jane.refresh_from_db()
    assert jane.stage == "lead"
    assert Event.objects.count() == events


def test_viewer_changes_nothing(make_party, viewer):
    with pytest.raises(NotAllowed):
        update_party(make_party(), Actor.for_user(viewer), stage="customer")


def test_contact_points_and_relationships_are_recorded_both_ways(make_party, staff):
    actor = Actor.for_user(staff)
    jane, acme = make_party("Jane Example"), make_party("Acme Ltd", kind="organisation")

    point = add_contact_point(
        jane, actor, ContactKind.ADDRESS, "1 High St", is_service_site=True
    )
    link = add_relationship(jane, acme, actor, "works_at", role="Buyer")
    end_relationship(link, actor)
    remove_contact_point(point, actor)

    assert changes_of(jane)[0]["field"] == "contact_point"
    assert changes_of(jane)[0]["old"]["raw"] == "1 High St"
    assert Event.objects.filter(party=acme, kind="profile_change").count() == 3


def test_only_addresses_can_be_service_sites(make_party, staff):
    with pytest.raises(InvalidInput, match="service site"):
        add_contact_point(
            make_party(),
            Actor.for_user(staff),
            "email",
            "a@example.com",
            is_service_site=True,
        )


def test_tags_are_recorded(make_party, staff):
    jane = make_party()

    set_tags(jane, Actor.for_user(staff), ["VIP", "boiler"])
    set_tags(jane, Actor.for_user(staff), ["vip"])

    assert [t.name for t in jane.tags.all()] == ["vip"]
    assert changes_of(jane) == [{"field": "tag", "old": "boiler", "new": None}]


def test_adding_a_contact_point_twice_records_nothing_new(make_party, staff):
    jane = make_party(emails=["jane@example.com"])
    events = Event.objects.filter(party=jane).count()

    point = add_contact_point(jane, Actor.for_user(staff), "email", "JANE@example.com")

    assert point == jane.contact_points.get()
    assert Event.objects.filter(party=jane).count() == events


def test_local_only_number_is_kept_but_not_dialable(staff):
    party = create_party(
        Actor.for_user(staff), display_name_text="X", phones=["555-0123"]
    )

    point = party.contact_points.get()

    assert (point.value, point.dialable, point.raw) == ("5550123", False, "555-0123")


def test_names_lose_invisible_characters_and_stay_findable(staff):
    party = create_party(
        Actor.for_user(staff), given_name="\ufeffBOM", family_name="Name\u200b"
    )

    assert party.display_name == "BOM Name"
    assert list(search_parties(staff, "bom")) == [party]
    with pytest.raises(InvalidInput):
        create_party(Actor.for_user(staff), display_name_text="\u200b\u00a0")


def test_restricting_refuses_to_hide_open_follow_ups_from_their_assignee(
    make_party, owner, staff, now
):
    import datetime as dt

    from threadline.followups.services import create_follow_up
    from threadline.parties.services import restrict_party

    jane = make_party()
    actor = Actor.for_user(owner)
    create_follow_up(jane, actor, "Call", now + dt.timedelta(days=1), staff)

    with pytest.raises(InvalidInput, match="Sam Staff would lose sight"):
        restrict_party(jane, actor, restricted=True)

    jane.refresh_from_db()
    assert not jane.restricted
    restrict_party(jane, actor, restricted=True, users=[staff])


def test_tags_lose_invisible_characters(make_party, staff):
    jane = make_party()

    set_tags(jane, Actor.for_user(staff), ["v\u200bip", "\u202eabc"])

    assert sorted(t.name for t in jane.tags.all()) == ["abc", "vip"]
