"""Names are kept as written, in any script and order; sorting and search
fold accents so that a name is found however it is typed."""

import unicodedata
from importlib import import_module

import pytest
from django.apps import apps
from hypothesis import given
from hypothesis import strategies as st

from threadline.parties.models import Party
from threadline.parties.names import (
    clean_line,
    clean_text,
    cut_to,
    display_name,
    fold,
)
from threadline.parties.services import create_party, update_party
from threadline.search.models import SearchTerm
from threadline.search.services import search_parties
from threadline.timeline.actors import Actor
from threadline.transfer.importer import import_path

ACTOR = Actor.system("test")
NON_LATIN = [
    "Ελένη Παπαδοπούλου",
    "Иван Петрович Сидоров",
    "محمد عبد الله",
    "王小明",
    "김민수",
    "עדי כהן",
]


@pytest.mark.parametrize(
    ("given", "family", "fallback", "shown"),
    [
        ("", "Teller", "", "Teller"),
        ("Sukarno", "", "", "Sukarno"),
        ("", "", "Cher", "Cher"),
        ("Jane", "Example", "", "Jane Example"),
        ("Péter", "Nagy", "Nagy Péter", "Nagy Péter"),
        ("太郎", "山田", "", "山田 太郎"),
        ("太郎", "山田", "山田太郎", "山田太郎"),
        ("Anna", "van der Berg", "van der Berg, Anna", "Anna van der Berg"),
        ("Jane", "Example", "Jane Example", "Jane Example"),
    ],
)
def test_display_name_keeps_the_order_the_name_is_written_in(
    given, family, fallback, shown
):
    assert display_name(given, family, fallback) == shown


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("jose", "José"),
        ("muller", "Müller"),
        ("francois", "François"),
        ("ελενη", "Ελένη"),
        ("елка", "Ёлка"),
        ("strasse", "Straße"),
    ],
)
def test_folding_drops_accents_and_case(typed, stored):
    assert fold(stored) == fold(typed)


def test_folding_keeps_marks_that_make_another_letter():
    assert fold("ガス") != fold("カス")
    assert fold("김민수") == "김민수"
    assert fold("क्षमा") != fold("कषमा")


def test_cutting_never_parts_a_letter_from_its_accent():
    text = "Jose\u0301 Example"

    assert cut_to(text, 4) == "Jos"
    assert cut_to(text, 5) == "Jose\u0301"
    assert cut_to("Jane", 10) == "Jane"


@pytest.mark.django_db
@pytest.mark.parametrize("name", NON_LATIN)
def test_non_latin_names_are_kept_exactly_as_written(name):
    party = create_party(ACTOR, display_name_text=name)

    party.refresh_from_db()
    assert party.display_name == name


@pytest.mark.django_db
def test_family_name_first_survives_create_and_an_edit_of_the_given_name():
    hungarian = create_party(
        ACTOR, display_name_text="Nagy Péter", given_name="Péter", family_name="Nagy"
    )
    japanese = create_party(ACTOR, given_name="太郎", family_name="山田")

    update_party(hungarian, ACTOR, given_name="Pál")

    assert hungarian.display_name == "Nagy Pál"
    assert japanese.display_name == "山田 太郎"


@pytest.mark.django_db
def test_a_very_long_name_is_kept_up_to_the_models_limit():
    party = create_party(ACTOR, display_name_text="A" * 350)

    assert party.display_name == "A" * 300


@pytest.mark.django_db
def test_sorting_ignores_accents_and_case():
    for name in ["fred", "Émile", "Eddie", "Zoë", "adam"]:
        create_party(ACTOR, display_name_text=name)

    names = list(Party.objects.values_list("display_name", flat=True))

    assert names == ["adam", "Eddie", "Émile", "fred", "Zoë"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("jose", "José García"),
        ("muller", "Jürgen Müller"),
        ("MÜLLER", "Jürgen Müller"),
        ("ελενη", "Ελένη Παπαδοπούλου"),
        ("иван", "Иван Петрович Сидоров"),
        ("山田", "山田 太郎"),
        ("O'Brien", "Mei O'Brien"),
        ("mei o’brien", "Mei O'Brien"),
        ("O'Connor", "Siobhán O’Connor"),
        ("smith-jones", "Anne Smith-Jones"),
        ("St. John", "Anne St John"),
    ],
)
def test_search_finds_a_name_however_its_accents_are_typed(owner, typed, name):
    create_party(ACTOR, display_name_text=name)
    create_party(ACTOR, display_name_text="Someone Else")

    found = list(search_parties(owner, typed).values_list("display_name", flat=True))

    assert found == [name]


@pytest.mark.django_db
def test_an_import_keeps_scripts_orders_and_says_when_a_name_was_cut(tmp_path):
    long_name = "Maria " + "Anna " * 70 + "Example"
    path = tmp_path / "people.csv"
    path.write_text(
        "full name,first name,last name,email\n"
        ",太郎,山田,taro@example.jp\n"
        "Nagy Péter,Péter,Nagy,peter@example.hu\n"
        "محمد عبد الله,,,m@example.com\n"
        f"{long_name},,,long@example.com\n"
        "Teller,,,teller@example.com\n",
        encoding="utf-8",
    )

    report = import_path(path)

    names = set(Party.objects.values_list("display_name", flat=True))
    assert names == {
        "山田 太郎",
        "Nagy Péter",
        "محمد عبد الله",
        long_name[:300].rstrip(),
        "Teller",
    }
    [cut] = report.problems
    assert cut.line == 5
    assert not cut.skipped
    assert f"the full name has {len(long_name)} characters" in cut.message


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


@given(st.text(alphabet=st.characters(max_codepoint=0x7F)))
def test_ascii_text_is_cleaned_and_folded_as_any_text_is(text: str) -> None:
    """The fast path for ASCII gives what the look-up per character gives."""
    spaced = "".join(" " if _is_control(char) else char for char in text)
    kept = "".join(char for char in text if char in "\n\t" or not _is_control(char))

    assert clean_line(text) == " ".join(spaced.split())
    assert clean_text(text) == kept.strip()
    assert fold(text) == " ".join(text.casefold().split())


@pytest.mark.django_db
def test_a_name_saved_before_curly_apostrophes_parted_words_is_found(owner):
    party = create_party(ACTOR, display_name_text="Siobhán O’Connor")
    SearchTerm.objects.filter(party=party).delete()
    SearchTerm.objects.create(party=party, term="o’connor")
    migration = import_module(
        "threadline.search.migrations.0002_split_names_at_curly_apostrophes"
    )

    migration.split_at_apostrophes(apps, None)

    found = search_parties(owner, "O'Connor").values_list("display_name", flat=True)
    assert list(found) == ["Siobhán O’Connor"]
