"""Quoting a file's content in a message: short and printable."""

from threadline.transfer.excerpts import error_text, excerpt


def test_plain_text_is_quoted_as_it_is() -> None:
    assert excerpt("BEGIN:VCALENDAR") == "BEGIN:VCALENDAR"


def test_white_space_is_folded_to_single_spaces() -> None:
    assert excerpt("  one\r\n\ttwo  ") == "one two"


def test_each_run_of_controls_and_undecodable_bytes_is_one_question_mark() -> None:
    text = "N\x00\x1b[2J:\x07\x08 caf\ufffd\ufffd\u202e!"

    assert excerpt(text) == "N?[2J:? caf?!"


def test_long_text_is_cut_with_an_ellipsis() -> None:
    quoted = excerpt("x" * 500, limit=20)

    assert quoted == "x" * 19 + "…"


def test_letters_of_any_script_are_kept() -> None:
    assert excerpt("Jürgen Müller, 東京, Αθήνα") == "Jürgen Müller, 東京, Αθήνα"


def test_an_error_without_words_is_named_by_its_kind() -> None:
    assert error_text(ValueError("\x00\x01")) == "?"
    assert error_text(ValueError()) == "ValueError"
