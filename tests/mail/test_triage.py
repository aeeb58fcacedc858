"""The unknown-senders list: add as new customer, add to existing, ignore."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.mail.conftest import DATA, build_message
from threadline.accounts.models import User
from threadline.mail.models import HeldMessage, SenderStatus, UnknownSender
from threadline.mail.services import add_sender_as_new_party, add_sender_to_party
from threadline.parties.models import Party
from threadline.parties.services import restrict_party
from threadline.timeline.actors import Actor
from threadline.timeline.kinds import Kind
from threadline.timeline.models import Event
from threadline.transfer.importer import import_path

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client: Client) -> Callable[[User], Client]:
    def sign_in(user: User) -> Client:
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def jiri() -> UnknownSender:
    import_path(DATA / "eml_encoded_word_subject.eml")
    return UnknownSender.objects.get()


def _url(name: str, sender: UnknownSender) -> str:
    return reverse(name, args=[sender.public_id])


def test_list_shows_address_name_count_and_latest_subject(signed_in, staff, jiri):
    page = signed_in(staff).get(reverse("web:mail_senders")).content.decode()

    assert "Jiří Příklad" in page
    assert "jiri@example.cz" in page
    assert "1 email" in page
    assert "Faktura pro společnost Example s.r.o." in page
    assert "5 Mar 2025" in page


def test_today_links_to_the_waiting_senders(signed_in, staff, jiri):
    page = signed_in(staff).get(reverse("web:today")).content.decode()

    assert "1 unknown sender" in page
    assert reverse("web:mail_senders") in page


def test_add_as_new_customer_records_the_kept_messages(signed_in, staff, jiri):
    response = signed_in(staff).post(
        _url("web:mail_sender_new", jiri), {"name": "Jiří Příklad"}
    )

    party = Party.objects.get(display_name="Jiří Příklad")
    assert response.url == reverse("web:party", args=[party.public_id])
    [event] = Event.objects.filter(party=party, kind=Kind.MESSAGE)
    assert event.summary == "Faktura pro společnost Example s.r.o."
    assert event.actor_user == staff
    assert event.actor_label == f"kept mail, filed by {staff.display_name}"
    assert event.thread is not None
    assert party.contact_points.get().value == "jiri@example.cz"
    jiri.refresh_from_db()
    assert (jiri.status, jiri.party, jiri.triaged_by) == (
        SenderStatus.ADDED,
        party,
        staff,
    )
    assert not HeldMessage.objects.exists()


def test_later_mail_goes_straight_to_the_new_customer(signed_in, staff, jiri):
    signed_in(staff).post(_url("web:mail_sender_new", jiri), {"name": ""})

    import_path(DATA / "eml_encoded_word_subject.eml")

    party = Party.objects.get(display_name="Jiří Příklad")
    assert Event.objects.filter(party=party, kind=Kind.MESSAGE).count() == 1
    assert UnknownSender.objects.get().status == SenderStatus.ADDED


def test_add_to_existing_customer_adds_the_address_and_messages(
    signed_in, staff, jiri, make_party
):
    company = make_party("Example s.r.o.", emails=["office@example.cz"])

    response = signed_in(staff).post(
        _url("web:mail_sender_existing", jiri), {"other": str(company.public_id)}
    )

    assert response.url == reverse("web:party", args=[company.public_id])
    emails = set(company.contact_points.values_list("value", flat=True))
    assert emails == {"office@example.cz", "jiri@example.cz"}
    assert Event.objects.filter(party=company, kind=Kind.MESSAGE).count() == 1


def test_add_to_existing_needs_a_pick(signed_in, staff, jiri):
    client = signed_in(staff)

    response = client.post(_url("web:mail_sender_existing", jiri), {}, follow=True)

    assert "pick one first" in response.content.decode()
    jiri.refresh_from_db()
    assert jiri.status == SenderStatus.WAITING


def test_a_restricted_customer_the_user_cannot_see_is_not_found(
    signed_in, outsider, owner, jiri, make_party
):
    hidden = make_party("Hidden Co", owner=owner)
    restrict_party(hidden, Actor.for_user(owner), restricted=True)

    response = signed_in(outsider).post(
        _url("web:mail_sender_existing", jiri), {"other": str(hidden.public_id)}
    )

    assert response.status_code == 404
    assert not Event.objects.filter(party=hidden, kind=Kind.MESSAGE).exists()


def test_ignore_drops_the_messages_and_keeps_no_later_ones(signed_in, staff, jiri):
    signed_in(staff).post(_url("web:mail_sender_ignore", jiri))

    report = import_path(DATA / "eml_encoded_word_subject.eml")

    jiri.refresh_from_db()
    assert jiri.status == SenderStatus.IGNORED
    assert not HeldMessage.objects.exists()
    assert report.created["held email"] == 0


def test_a_viewer_may_look_but_not_decide(signed_in, viewer, jiri):
    client = signed_in(viewer)

    page = client.get(_url("web:mail_sender", jiri)).content.decode()
    response = client.post(_url("web:mail_sender_ignore", jiri))

    assert "Dobrý den" in page
    assert "Ignore" not in page
    assert response.status_code == 403
    jiri.refresh_from_db()
    assert jiri.status == SenderStatus.WAITING


def test_deciding_twice_says_it_was_already_done(signed_in, staff, jiri):
    client = signed_in(staff)
    client.post(_url("web:mail_sender_ignore", jiri))

    response = client.post(_url("web:mail_sender_new", jiri), follow=True)

    assert "already ignored" in response.content.decode()
    assert not Party.objects.filter(display_name__startswith="Ji").exists()


def test_outbound_mail_to_an_unknown_address_is_held_as_ours(tmp_path: Path, staff):
    (tmp_path / "out.eml").write_bytes(
        build_message(sender="sam@example.com", to="New Person <new@example.org>")
    )
    import_path(tmp_path / "out.eml")
    sender = UnknownSender.objects.get()

    party = add_sender_as_new_party(sender, Actor.for_user(staff))

    [event] = Event.objects.filter(party=party, kind=Kind.MESSAGE)
    assert party.display_name == "New Person"
    assert event.direction == "outbound"
    assert event.occurred_at == dt.datetime(2025, 3, 4, 9, 30, tzinfo=dt.UTC)


def test_a_customer_gets_a_message_once_whichever_address_it_reached(
    tmp_path: Path, staff, make_party
):
    jane = make_party("Jane Example", emails=["jane@example.net"])
    (tmp_path / "both.eml").write_bytes(
        build_message(
            sender="sales@example.com",
            to="jane@example.net, Jane Home <jane@home.example.org>",
        )
    )
    import_path(tmp_path / "both.eml")
    sender = UnknownSender.objects.get(address="jane@home.example.org")

    add_sender_to_party(sender, jane, Actor.for_user(staff))

    assert Event.objects.filter(party=jane, kind=Kind.MESSAGE).count() == 1


def test_settings_mailboxes_counts_and_links_the_waiting_senders(
    signed_in, staff, jiri
):
    page = signed_in(staff).get(reverse("web:settings_mailboxes")).content.decode()

    assert "1 unknown sender waits for a decision" in page
    assert reverse("web:mail_senders") in page


def test_the_list_counts_every_waiting_sender_beyond_those_it_shows(
    signed_in, staff, monkeypatch
):
    monkeypatch.setattr("threadline.mail.views.SENDERS_SHOWN", 2)
    for number in range(3):
        UnknownSender.objects.create(
            address=f"writer{number}@example.net",
            latest_at=dt.datetime(2025, 3, 1 + number, tzinfo=dt.UTC),
        )

    page = signed_in(staff).get(reverse("web:mail_senders")).content.decode()

    assert '<span class="count">3</span>' in page
    assert "The latest 2 are shown; 1 more waits." in page
