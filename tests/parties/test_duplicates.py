"""Finding duplicate candidates: the signals, their scores and the blocks."""

import logging

import pytest

from threadline.errors import NotAllowed
from threadline.parties import duplicates
from threadline.parties.duplicates import (
    candidate_counts,
    candidates_for,
    find_duplicates,
    find_duplicates_of_runs,
    mark_not_duplicates,
)
from threadline.parties.models import (
    CandidateStatus,
    DuplicateCandidate,
    PartyKind,
    RelationshipKind,
)
from threadline.parties.services import (
    add_relationship,
    archive_party,
    remove_contact_point,
    restrict_party,
)
from threadline.timeline.actors import Actor

pytestmark = pytest.mark.django_db


def pair_of(first, second):
    low, high = sorted([first, second], key=lambda party: party.pk)
    return DuplicateCandidate.objects.filter(first=low, second=high).first()


def test_same_email_written_differently_is_a_strong_candidate(make_party):
    jane = make_party("Jane Example", emails=["jane@example.com"])
    again = make_party("Jane  Example", emails=[" JANE@Example.com "])

    find_duplicates()

    candidate = pair_of(jane, again)
    assert candidate.score >= 95
    assert candidate.reasons == ["same email jane@example.com"]


def test_same_email_with_another_name_scores_lower_and_says_why(make_party):
    jane = make_party("Jane Example", emails=["office@example-firm.com"])
    bob = make_party("Robert Sample", emails=["office@example-firm.com"])

    find_duplicates()

    candidate = pair_of(jane, bob)
    assert candidate.score < 80
    assert "names are only" in candidate.reasons[0]


def test_a_shared_phone_scores_low_and_names_households(make_party):
    jane = make_party("Jane Example", phones=["+1 202 555 0143"])
    john = make_party("John Example", phones=["(202) 555-0143"])

    find_duplicates()

    candidate = pair_of(jane, john)
    assert candidate.score < 60
    assert "households and offices share phones" in candidate.reasons[0]
    assert "+1 202-555-0143" in candidate.reasons[0]


def test_a_shared_local_number_without_area_code_is_a_signal(make_party):
    jane = make_party("Jane Example", phones=["555-0143"])
    again = make_party("Jane Example", phones=["555 0143"])

    find_duplicates()

    candidate = pair_of(jane, again)
    assert candidate.score >= 85
    assert candidate.reasons == ["same phone 5550143"]


def test_a_shared_internal_line_is_not_a_signal(make_party):
    make_party("Jane Example", phones=["1047"])
    make_party("Jane Sample", phones=["1047"])

    assert find_duplicates().found == 0


def test_same_phone_and_alike_names_score_high(make_party):
    jane = make_party("Jane Example", phones=["+1 202 555 0143"])
    again = make_party("Jane Exmaple", phones=["202-555-0143"])

    find_duplicates()

    assert pair_of(jane, again).score >= 85


def test_alike_names_at_the_same_organisation(make_party, staff):
    actor = Actor.for_user(staff)
    acme = make_party("Acme", kind=PartyKind.ORGANISATION, actor=actor)
    jane = make_party("Jane Example", actor=actor)
    typo = make_party("Jane Exampel", actor=actor)
    other = make_party("Peter Other", actor=actor)
    for person in (jane, typo, other):
        add_relationship(person, acme, actor, RelationshipKind.WORKS_AT)

    find_duplicates()

    candidate = pair_of(jane, typo)
    assert candidate.reasons == [
        "names 92% alike and both work at Acme",
    ]
    assert pair_of(jane, other) is None


def test_alike_names_alone_are_not_a_candidate(make_party):
    jane = make_party("Jane Example", emails=["jane@gmail.com"])
    again = make_party("Jane Example", emails=["jexample@gmail.com"])

    find_duplicates()

    # Free mail says nothing about who they are.
    assert pair_of(jane, again) is None


def test_alike_names_with_a_company_domain_or_an_address(make_party):
    jane = make_party("Jane Example", emails=["jane@example-firm.com"])
    again = make_party("Jane Example", emails=["j.example@example-firm.com"])
    home = make_party("Tom Sample", addresses=["1 High Street, Bath"])
    twin = make_party("Tom Sampel", addresses=["1 High Street,  Bath"])

    find_duplicates()

    assert pair_of(jane, again).reasons == [
        "names 100% alike and both use example-firm.com email"
    ]
    assert (
        pair_of(home, twin)
        .reasons[0]
        .endswith("both have the address 1 High Street, Bath")
    )


def test_several_signals_raise_the_score_and_list_every_reason(make_party):
    jane = make_party(
        "Jane Example", emails=["jane@example.com"], phones=["+1 202 555 0143"]
    )
    again = make_party(
        "Jane Example", emails=["jane@example.com"], phones=["+1 202 555 0143"]
    )

    find_duplicates()

    candidate = pair_of(jane, again)
    assert candidate.score == 99
    assert len(candidate.reasons) == 2


def test_people_are_not_paired_with_organisations(make_party):
    make_party("Acme", emails=["hello@acme-example.com"])
    make_party("Acme", kind=PartyKind.ORGANISATION, emails=["hello@acme-example.com"])

    find_duplicates()

    assert not DuplicateCandidate.objects.exists()


def test_linked_parties_are_known_to_be_two(make_party, staff):
    actor = Actor.for_user(staff)
    jane = make_party("Jane Example", phones=["+1 202 555 0143"], actor=actor)
    john = make_party("John Example", phones=["+1 202 555 0143"], actor=actor)
    add_relationship(jane, john, actor, RelationshipKind.HOUSEHOLD)

    find_duplicates()

    assert pair_of(jane, john) is None


def test_archived_parties_are_not_candidates(make_party):
    jane = make_party("Jane Example", emails=["jane@example.com"])
    old = make_party("Jane Example", emails=["jane@example.com"])
    archive_party(old, Actor.system("test"), "closed account")

    find_duplicates()

    assert pair_of(jane, old) is None


def test_a_pair_marked_not_duplicates_is_not_proposed_again(make_party, staff):
    jane = make_party("Jane Example", emails=["jane@example.com"])
    again = make_party("Jane Example", emails=["jane@example.com"])
    find_duplicates()
    mark_not_duplicates(pair_of(jane, again), Actor.for_user(staff))

    result = find_duplicates()

    candidate = pair_of(jane, again)
    assert candidate.status == CandidateStatus.NOT_DUPLICATES
    assert candidate.decided_by == staff
    assert result.new == 0
    assert list(candidates_for(staff)) == []


def test_viewer_cannot_mark_not_duplicates(make_party, viewer):
    make_party("Jane Example", emails=["jane@example.com"])
    make_party("Jane Example", emails=["jane@example.com"])
    find_duplicates()

    with pytest.raises(NotAllowed):
        mark_not_duplicates(DuplicateCandidate.objects.get(), Actor.for_user(viewer))


def test_a_pair_whose_evidence_is_gone_leaves_the_queue(make_party, staff):
    jane = make_party("Jane Example", emails=["jane@example.com"])
    again = make_party("Jane Example", emails=["jane@example.com"])
    find_duplicates()

    remove_contact_point(again.contact_points.get(), Actor.for_user(staff))
    result = find_duplicates()

    assert result.removed == 1
    assert pair_of(jane, again) is None


def test_restricted_pairs_appear_only_to_those_who_see_both(
    make_party, owner, staff, outsider
):
    jane = make_party("Jane Example", emails=["jane@example.com"])
    make_party("Jane Example", emails=["jane@example.com"])
    restrict_party(jane, Actor.for_user(owner), restricted=True, users=[staff])

    find_duplicates()

    assert candidates_for(staff).count() == 1
    assert candidates_for(outsider).count() == 0


def test_a_scoped_search_finds_pairs_with_the_touched_parties_only(make_party):
    jane = make_party("Jane Example", emails=["jane@example.com"])
    again = make_party("Jane Example", emails=["jane@example.com"])
    tom = make_party("Tom Sample", emails=["tom@example.com"])
    make_party("Tom Sample", emails=["tom@example.com"])
    for number in range(6):
        make_party(f"Filler {number}", emails=[f"filler{number}@example.com"])

    result = find_duplicates({again.pk})

    assert result.new == 1
    assert pair_of(jane, again) is not None
    assert not DuplicateCandidate.objects.filter(first=tom).exists()


def test_a_run_finds_duplicates_among_the_parties_it_wrote(make_party):
    jane = make_party("Jane Example", emails=["jane@example.com"])
    again = make_party(
        "Jane Example",
        emails=["jane@example.com"],
        actor=Actor.importer("import #7 of contacts.csv"),
    )

    result = find_duplicates_of_runs(["import #7 of contacts.csv"])

    assert result.new == 1
    assert pair_of(jane, again) is not None


def test_counts_per_status(make_party, staff):
    make_party("Jane Example", emails=["jane@example.com"])
    make_party("Jane Example", emails=["jane@example.com"])
    make_party("Tom Sample", emails=["tom@example.com"])
    make_party("Tom Sample", emails=["tom@example.com"])
    find_duplicates()
    mark_not_duplicates(DuplicateCandidate.objects.first(), Actor.for_user(staff))

    assert candidate_counts() == {"open": 1, "not_duplicates": 1, "merged": 0}


def test_an_email_shared_by_a_crowd_is_not_a_signal(make_party):
    for number in range(30):
        make_party(f"Person {number}", emails=["family.post@gmail.com"])

    result = find_duplicates()

    assert result.found == 0


def test_a_real_import_puts_its_lookalikes_in_the_queue(make_party, tmp_path):
    from threadline.transfer.importer import import_path

    jane = make_party("Jane Example", emails=["jane@example-firm.com"])
    path = tmp_path / "contacts.csv"
    path.write_text(
        "Name,Email\nJane Exampel,j.example@example-firm.com\n", encoding="utf-8"
    )

    import_path(path)

    candidate = DuplicateCandidate.objects.get()
    assert jane.pk in (candidate.first_id, candidate.second_id)
    assert candidate.reasons == ["names 92% alike and both use example-firm.com email"]


def test_a_dry_run_leaves_the_queue_alone(make_party, tmp_path):
    from threadline.transfer.importer import import_path

    make_party("Jane Example", emails=["jane@example-firm.com"])
    path = tmp_path / "contacts.csv"
    path.write_text(
        "Name,Email\nJane Exampel,j.example@example-firm.com\n", encoding="utf-8"
    )

    import_path(path, dry_run=True)

    assert not DuplicateCandidate.objects.exists()


def test_names_with_different_numbers_are_not_alike(make_party):
    first = make_party("Person 12", emails=["p12@example-firm.com"])
    second = make_party("Person 13", emails=["p13@example-firm.com"])
    make_party("Unit 4 Garage", emails=["unit4@example-firm.com"])

    find_duplicates()

    assert pair_of(first, second) is None
    assert not DuplicateCandidate.objects.exists()


def test_the_command_finds_lists_and_counts(make_party):
    from io import StringIO

    from django.core.management import call_command

    first = make_party("Jane Example", emails=["jane@example.com"])
    second = make_party("Jane  Example", emails=["JANE@example.com"])
    out = StringIO()

    call_command("duplicates", "find", stdout=out)
    call_command("duplicates", "list", stdout=out)
    call_command("duplicates", stdout=out)

    text = out.getvalue()
    assert "1 possible duplicate (1 new" in text
    assert " 95  Jane Example (" in text
    # Made together, the two share their ids' first digits, the time.
    assert f"({first.public_id.hex[-8:]})" in text
    assert f"({second.public_id.hex[-8:]})" in text
    assert "     - same email jane@example.com" in text
    assert "Waiting for review: 1; not duplicates: 0; merged: 0." in text


def test_the_command_refuses_a_limit_below_one():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--limit must be 1 or more"):
        call_command("duplicates", "list", "--limit", "0")


def test_a_scoped_search_words_a_pair_as_the_full_search_does(make_party, staff):
    actor = Actor.for_user(staff)
    acme = make_party("Acme", kind=PartyKind.ORGANISATION, actor=actor)
    jane = make_party("Jane Example", emails=["jane@acme-example.com"], actor=actor)
    typo = make_party("Jane Exampel", emails=["jane@acme-example.com"], actor=actor)
    for person in (jane, typo):
        add_relationship(person, acme, actor, RelationshipKind.WORKS_AT)
    find_duplicates()
    full = pair_of(jane, typo).reasons

    result = find_duplicates({typo.pk})

    assert result.updated == 0
    assert pair_of(jane, typo).reasons == full
    assert "names 92% alike and both work at Acme" in full


def test_groups_compared_in_part_are_told_once_at_info(make_party, monkeypatch, caplog):
    monkeypatch.setattr(duplicates, "MAX_BUCKET", 3)
    for typo in ("Example", "Exampel", "Examlpe", "Exampl", "Examplee"):
        make_party(
            f"Jane {typo}",
            emails=[f"jane.{typo.lower()}@example-firm.com"],
            addresses=["1 High Street, Bath"],
        )

    with caplog.at_level(logging.INFO, logger=duplicates.__name__):
        find_duplicates()

    told = [record for record in caplog.records if "checked only" in record.message]
    assert [record.levelno for record in told] == [logging.INFO]
    # The names' two words make two groups for each of the shared domain and
    # the shared address.
    assert told[0].message.startswith(
        "Duplicate search: 4 groups of more than 3 customers with alike names "
        "(the largest 5) were checked only among their first 3"
    )
    assert not [
        record for record in caplog.records if record.levelno >= logging.WARNING
    ]


def test_organisations_of_one_name_are_a_candidate_by_themselves(make_party):
    acme = make_party("Acme Ltd", kind=PartyKind.ORGANISATION)
    again = make_party("Acme Ltd", kind=PartyKind.ORGANISATION)

    find_duplicates()

    candidate = pair_of(acme, again)
    assert candidate.score == 90
    assert candidate.reasons == ["same organisation name Acme Ltd"]


def test_capitals_and_punctuation_leave_an_organisation_name_the_same(make_party):
    shouted = make_party("ACME Ltd.", kind=PartyKind.ORGANISATION)
    acme = make_party("Acme Ltd", kind=PartyKind.ORGANISATION)

    find_duplicates()

    assert pair_of(shouted, acme).reasons == ["same organisation name ACME Ltd."]


def test_alike_organisation_names_are_a_candidate_that_says_how_alike(make_party):
    acme = make_party("Acme Plumbing Ltd", kind=PartyKind.ORGANISATION)
    typo = make_party("Acme Plumbnig Ltd", kind=PartyKind.ORGANISATION)
    make_party("Acme Catering", kind=PartyKind.ORGANISATION)

    result = find_duplicates()

    candidate = pair_of(acme, typo)
    assert candidate.reasons == ["organisation names 94% alike"]
    assert candidate.score == 78
    assert result.found == 1


def test_organisation_names_with_different_numbers_are_not_alike(make_party):
    make_party("Unit 4 Garage", kind=PartyKind.ORGANISATION)
    make_party("Unit 5 Garage", kind=PartyKind.ORGANISATION)

    assert find_duplicates().found == 0


def test_organisations_are_compared_only_within_a_name_prefix(make_party):
    for name in ("Acme Ltd", "Bolt Ltd", "Crane Ltd", "Delta Ltd"):
        make_party(name, kind=PartyKind.ORGANISATION)

    result = find_duplicates()

    assert result.compared == 0
    assert result.found == 0


def test_people_of_one_name_alone_are_still_not_a_candidate(make_party):
    make_party("Jane Example")
    make_party("Jane Example")

    assert find_duplicates().found == 0


def test_a_large_bucket_of_organisation_names_is_compared_in_part(
    make_party, monkeypatch
):
    monkeypatch.setattr(duplicates, "MAX_BUCKET", 2)
    for _ in range(3):
        make_party("Acme Ltd", kind=PartyKind.ORGANISATION)

    assert find_duplicates().found == 1


def test_an_imported_organisation_is_paired_with_the_one_known(make_party):
    acme = make_party("Acme Ltd", kind=PartyKind.ORGANISATION)
    for number in range(3):
        make_party(f"Zeta {number} Ltd", kind=PartyKind.ORGANISATION)
    shouted = make_party("ACME LTD", kind=PartyKind.ORGANISATION)

    result = find_duplicates({shouted.pk})

    assert result.new == 1
    assert pair_of(acme, shouted).reasons == ["same organisation name Acme Ltd"]
