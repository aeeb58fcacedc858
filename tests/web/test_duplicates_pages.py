"""The duplicate review queue, the merge page, undo, and merged addresses."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from threadline.parties.duplicates import find_duplicates
from threadline.parties.merging import merge_parties
from threadline.parties.models import CandidateStatus, DuplicateCandidate, Party
from threadline.parties.services import (
    add_contact_point,
    party_version,
    remove_contact_point,
    restrict_party,
)
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.timeline.services import record_event

from .conftest import htmx

pytestmark = pytest.mark.django_db

QUEUE = reverse("web:duplicates")


@pytest.fixture
def pair(make_party, staff):
    actor = Actor.for_user(staff)
    left = make_party(
        "Jane Example",
        emails=["jane@example.com"],
        phones=["+1 202 555 0143"],
        actor=actor,
    )
    right = make_party("Jane  Example", emails=["JANE@EXAMPLE.COM"], actor=actor)
    record_event(right, Kind.CALL, "Asked for a quote", actor=actor)
    find_duplicates()
    return DuplicateCandidate.objects.get(), left, right


def merge_url(candidate, into="left"):
    return reverse("web:duplicate_merge", args=[candidate.public_id]) + f"?into={into}"


def test_queue_shows_both_sides_with_reasons_and_score(signed_in, staff, pair):
    candidate, left, right = pair

    page = signed_in(staff).get(QUEUE)

    text = page.content.decode()
    assert page.status_code == 200
    assert "Same email jane@example.com" in text
    assert f">{candidate.score}<" in text
    assert "+1 202-555-0143" in text
    assert "1 timeline entry" in text or "2 timeline entries" in text
    assert "Merge into left" in text
    assert "Not duplicates" in text


def test_viewer_sees_the_queue_without_actions(signed_in, viewer, pair):
    page = signed_in(viewer).get(QUEUE)

    assert page.status_code == 200
    assert b"Same email" in page.content
    assert b"Merge into left" not in page.content


def test_a_restricted_pair_is_shown_only_to_those_who_see_both(
    signed_in, owner, staff, outsider, pair
):
    _, left, _ = pair
    restrict_party(left, Actor.for_user(owner), restricted=True, users=[staff])

    assert b"Same email" in signed_in(staff).get(QUEUE).content
    assert b"Same email" not in signed_in(outsider).get(QUEUE).content


def test_queue_costs_the_same_queries_for_one_pair_or_many(
    signed_in, staff, make_party, pair
):
    client = signed_in(staff)
    client.get(QUEUE)
    with CaptureQueriesContext(connection) as one:
        client.get(QUEUE)
    for number in range(4):
        make_party(f"Tom Sample {number}", emails=[f"tom{number}@example.com"])
        make_party(f"Tom Sample {number}", emails=[f"tom{number}@example.com"])
    find_duplicates()

    with CaptureQueriesContext(connection) as five:
        page = client.get(QUEUE)

    assert page.content.count(b"dup-pair") == 5
    assert len(five) == len(one)


def test_merge_page_says_what_will_happen(signed_in, staff, pair):
    candidate, _, right = pair

    page = signed_in(staff).get(merge_url(candidate))

    text = page.content.decode()
    assert "Merge into Jane Example?" in text
    assert "Kept once, as Jane Example already has them: JANE@EXAMPLE.COM." in text
    assert "its old page will lead here" in text
    assert party_version(right) in text


def test_merging_from_the_page_keeps_the_chosen_side(signed_in, staff, pair):
    candidate, left, right = pair
    client = signed_in(staff)

    answer = client.post(
        reverse("web:duplicate_merge", args=[candidate.public_id]),
        {
            "into": "right",
            "survivor_version": party_version(right),
            "other_version": party_version(left),
        },
    )

    assert answer.status_code == 302
    assert answer["Location"] == reverse("web:party", args=[right.public_id])
    left.refresh_from_db()
    assert left.merged_into == right
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.MERGED
    follow = client.get(answer["Location"])
    assert b"Undo merge" in follow.content
    assert b"Merged the other record of this name into Jane Example" in follow.content


def test_pressing_merge_twice_leads_to_the_merged_customer(signed_in, staff, pair):
    candidate, left, right = pair
    client = signed_in(staff)
    form = {
        "into": "right",
        "survivor_version": party_version(right),
        "other_version": party_version(left),
    }
    url = reverse("web:duplicate_merge", args=[candidate.public_id])
    client.post(url, form)

    again = client.post(url, form, follow=True)

    assert again.status_code == 200
    assert b"Already merged into Jane Example" in again.content
    assert Party.objects.get(pk=left.pk).merged_into == right


def test_a_stale_merge_page_is_refused(signed_in, staff, pair):
    candidate, left, right = pair
    client = signed_in(staff)
    seen = party_version(right)
    from threadline.parties.services import update_party

    update_party(right, Actor.for_user(staff), language="fr")
    answer = client.post(
        reverse("web:duplicate_merge", args=[candidate.public_id]),
        {
            "into": "left",
            "survivor_version": party_version(left),
            "other_version": seen,
        },
        follow=True,
    )

    assert b"was changed by someone after you opened this page" in answer.content
    assert Party.objects.get(pk=right.pk).archived_at is None


def test_viewer_may_not_merge(signed_in, viewer, pair):
    candidate, left, right = pair

    answer = signed_in(viewer).post(
        reverse("web:duplicate_merge", args=[candidate.public_id]),
        {
            "into": "left",
            "survivor_version": party_version(left),
            "other_version": party_version(right),
        },
    )

    assert answer.status_code == 403
    assert Party.objects.get(pk=right.pk).archived_at is None


def test_not_duplicates_takes_the_pair_out_of_the_queue(signed_in, staff, pair):
    candidate, _, _ = pair
    client = signed_in(staff)

    answer = client.post(
        reverse("web:duplicate_dismiss", args=[candidate.public_id]), **htmx()
    )

    assert answer.status_code == 200
    assert b"will not be proposed again" in answer.content
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.NOT_DUPLICATES
    assert b"No possible duplicates" in client.get(QUEUE).content


def test_undo_from_the_timeline_separates_them_again(signed_in, staff, pair):
    candidate, left, right = pair
    merge = merge_parties(left, right, Actor.for_user(staff))
    client = signed_in(staff)
    undo = reverse("web:merge_undo", args=[merge.public_id])

    answer = client.post(undo, follow=True)

    assert b"is a separate customer again" in answer.content
    assert b"Undo merge" not in answer.content
    right.refresh_from_db()
    assert right.archived_at is None
    again = client.post(undo, follow=True)
    assert b"This merge was already undone" in again.content


def test_undo_says_which_contact_point_removed_since_stays_gone(signed_in, staff, pair):
    _, left, right = pair
    actor = Actor.for_user(staff)
    add_contact_point(right, actor, "phone", "+1 202 555 0199")
    merge = merge_parties(left, right, actor)
    remove_contact_point(left.contact_points.get(value="+12025550199"), actor)

    answer = signed_in(staff).post(
        reverse("web:merge_undo", args=[merge.public_id]), follow=True
    )

    text = answer.content.decode()
    assert "is a separate customer again" in text
    assert "Not moved back, as removed since the merge: 1 contact point" in text
    right.refresh_from_db()
    assert right.archived_at is None


def test_a_merged_address_leads_to_the_survivor(signed_in, staff, pair):
    _, left, right = pair
    merge_parties(left, right, Actor.for_user(staff))

    answer = signed_in(staff).get(
        reverse("web:party", args=[right.public_id]), follow=True
    )

    assert answer.redirect_chain == [(reverse("web:party", args=[left.public_id]), 302)]
    assert b"was merged into Jane Example" in answer.content


def test_a_merged_address_stays_hidden_from_those_who_cannot_see_the_survivor(
    signed_in, owner, staff, outsider, pair
):
    _, left, right = pair
    restrict_party(left, Actor.for_user(owner), restricted=True, users=[staff])
    merge_parties(left, right, Actor.for_user(staff))

    answer = signed_in(outsider).get(reverse("web:party", args=[right.public_id]))

    assert answer.status_code == 404


def test_customers_page_links_to_the_queue_with_its_count(signed_in, staff, pair):
    page = signed_in(staff).get(reverse("web:customers"))

    assert b"Possible duplicates" in page.content
    assert b'<span class="count">1</span>' in page.content


def test_merge_events_stay_on_the_survivors_timeline(signed_in, staff, pair):
    _, left, right = pair
    merge = merge_parties(left, right, Actor.for_user(staff))

    assert Event.objects.filter(party=left, kind=Kind.CALL).count() == 1
    assert merge.payload["other_name"] == "Jane Example"


def test_the_button_looks_through_every_customer_now(signed_in, staff, make_party):
    make_party("Ann Lee", emails=["ann@example.com"])
    make_party("Ann Lee", emails=["ANN@example.com"])
    client = signed_in(staff)
    assert "Look through every customer" in client.get(QUEUE).content.decode()

    answer = client.post(reverse("web:duplicates_find"), follow=True)

    text = answer.content.decode()
    assert "Looked through every customer: 1 possible duplicate waiting" in text
    assert "Same email ann@example.com" in text


def test_a_viewer_may_not_start_a_search(signed_in, viewer, make_party):
    make_party("Ann Lee", emails=["ann@example.com"])
    make_party("Ann Lee", emails=["ANN@example.com"])
    client = signed_in(viewer)
    assert "Look through every customer" not in client.get(QUEUE).content.decode()

    answer = client.post(reverse("web:duplicates_find"))

    assert answer.status_code == 403
    assert not DuplicateCandidate.objects.exists()


def test_the_search_counts_only_pairs_the_person_may_see(
    signed_in, owner, staff, other_staff, make_party
):
    make_party("Ann Lee", emails=["ann@example.com"])
    hidden = make_party("Ann Lee", emails=["ANN@example.com"])
    restrict_party(hidden, Actor.for_user(owner), restricted=True, users=[other_staff])

    answer = signed_in(staff).post(reverse("web:duplicates_find"), follow=True)

    assert "0 possible duplicates waiting" in answer.content.decode()
    assert DuplicateCandidate.objects.count() == 1
