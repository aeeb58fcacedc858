"""threadline brief QUERY on the command line."""

import datetime as dt
import json

import pytest
from django.core.management import CommandError, call_command

from threadline.followups.services import create_follow_up
from threadline.timeline.actors import Actor
from threadline.transfer.importer import import_path
from threadline.transfer.undo import undo_import

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("brief", *args, stdout=out)
    return out.getvalue()


def test_brief_found_by_phone_in_another_format(make_party, staff, now):
    jane = make_party("Jane Example", phones=["+1 202-555-0143"])
    create_follow_up(
        jane, Actor.for_user(staff), "Send quote", now - dt.timedelta(days=1), staff
    )

    text = run("(202) 555 0143")

    assert text.startswith("Jane Example")
    assert "Overdue follow-up: Send quote" in text


def test_brief_as_json(make_party):
    make_party("Jane Example", emails=["jane@example.com"])

    data = json.loads(run("JANE@example.com", "--json"))

    assert data["identity"]["name"] == "Jane Example"
    assert data["warnings"] == []


def test_unknown_and_ambiguous_queries_fail_clearly(make_party):
    make_party("Jane Example", emails=["jane@example.com"])
    make_party("Jane Sample", emails=["jane@example.org"])

    with pytest.raises(CommandError, match="No customer matches"):
        run("nobody")
    with pytest.raises(CommandError, match="matches several customers"):
        run("jane")


def test_a_number_two_customers_share_asks_for_an_email_or_name(make_party):
    make_party("Jane Example", phones=["+1 202 555 0143"])
    make_party("John Example", phones=["+1 202 555 0143"])

    with pytest.raises(CommandError, match="They share this number; use an email"):
        run("(202) 555-0143")


def test_namesakes_with_nothing_else_are_told_apart_by_their_ids(make_party):
    """Two customers of one name, made together, with no email or phone:
    the list of candidates shows each id, and either form of it picks one."""
    first = make_party("Jane Example")
    second = make_party("Jane Example")

    with pytest.raises(CommandError) as refused:
        run("Jane Example")

    message = str(refused.value)
    assert f"(id {first.public_id.hex[-8:]})" in message
    assert f"(id {second.public_id.hex[-8:]})" in message
    assert "the id shown" in message
    for query, party in [
        (second.public_id.hex[-8:].upper(), second),
        (str(first.public_id), first),
        (first.public_id.hex, first),
    ]:
        assert json.loads(run(query, "--json"))["party"]["id"] == str(party.public_id)


def test_an_id_of_no_customer_is_not_found(make_party):
    make_party("Jane Example")

    with pytest.raises(CommandError, match="No customer matches"):
        run("0000000000000000000000000000abcd")


def test_bad_as_of_date_is_explained(make_party):
    make_party("Jane Example")

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        run("Jane Example", "--as-of", "3 March")


def test_restricted_party_is_not_found_for_a_user_without_access(
    make_party, owner, outsider
):
    from threadline.parties.services import restrict_party

    jane = make_party("Jane Example")
    restrict_party(jane, Actor.for_user(owner), restricted=True)

    with pytest.raises(CommandError, match="No customer matches"):
        run("Jane Example", "--as", outsider.email)
    assert run("Jane Example", "--as", owner.email).startswith("Jane Example")


def test_an_archived_customer_is_named_with_why_rather_than_briefed(tmp_path, owner):
    path = tmp_path / "contacts.csv"
    path.write_text("name,email\nGreta Gärtner,greta@garden.example\n", "utf-8")
    report = import_path(path)
    assert report.run is not None
    undo_import(report.run, Actor.for_user(owner))

    with pytest.raises(CommandError) as refused:
        run("greta@garden.example")

    message = str(refused.value)
    assert "No customer matches 'greta@garden.example'" in message
    assert "Greta Gärtner matches but was archived on" in message
