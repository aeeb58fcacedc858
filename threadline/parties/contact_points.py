"""Normalising what people type as emails, phones and addresses."""

import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from email_validator import EmailNotValidError, validate_email
from phonenumbers import CountryCodeSource

from threadline.errors import InvalidInput

# An extension written after the number: "ext. 543", "x204", "#12", ",,77".
EXTENSION = re.compile(
    r"\s*(?:(?:ext\.?|extension|x)\s*|#\s*|,+\s*)(?P<ext>\d{1,8})\s*$", re.IGNORECASE
)

NOT_DIGITS = re.compile(r"\D")
# Numbers lately parsed, by their E.164 value: enough for a batch of rows.
RECENT_NUMBERS = 4096
_RECENT_NUMBERS: dict[str, phonenumbers.PhoneNumber] = {}
# Too few digits to dial from outside: an internal line, or a local number
# without its area code.
SHORT_NUMBER_REASONS = frozenset(
    {
        phonenumbers.ValidationResult.TOO_SHORT,
        phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    }
)


@dataclass(frozen=True)
class PhoneParts:
    raw: str
    value: str
    extension: str
    dialable: bool
    # Why a number long enough to dial was kept as typed instead; empty for
    # one that was read, or one that is short (an internal line).
    doubt: str = ""


def normalise_email(raw: str) -> str:
    """Return the address trimmed and case-folded, or raise InvalidInput."""
    text = raw.strip()
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as error:
        reason = str(error)
        reason = reason[:1].lower() + reason[1:]
        raise InvalidInput(f"{text!r} is not an email address: {reason}") from error
    return result.normalized.lower()


def normalise_phone(raw: str, region: str | None = None) -> PhoneParts:
    """Parse a phone in any format into E.164 and a separate extension.

    A number that cannot be dialled from outside (an internal line such as
    "1047") is kept with its digits and flagged, never dropped; so is one
    that is no valid number of the region it is read in (a German number
    read as an American one), with the doubt said.
    """
    text = raw.strip()
    digits = NOT_DIGITS.sub("", text)
    if not digits:
        raise InvalidInput(f"{text!r} is not a phone number: it has no digits.")

    extension = ""
    number_part = text
    match = EXTENSION.search(text)
    if match and len(NOT_DIGITS.sub("", text[: match.start()])) >= 6:
        extension = match.group("ext")
        number_part = text[: match.start()]

    region = region or settings.DEFAULT_REGION
    try:
        number = phonenumbers.parse(number_part, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return PhoneParts(raw=text, value=digits, extension="", dialable=False)
    # A local-only number ("555-0123") lacks its area code: keep it, flagged.
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in SHORT_NUMBER_REASONS:
        return PhoneParts(raw=text, value=digits, extension="", dialable=False)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE or _misread(number):
        doubt = _doubt(text, region)
        return PhoneParts(
            raw=text, value=digits, extension="", dialable=False, doubt=doubt
        )

    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    _remember(e164, number)
    return PhoneParts(
        raw=text,
        value=e164,
        extension=extension or (number.extension or ""),
        dialable=True,
    )


def _misread(number: phonenumbers.PhoneNumber) -> bool:
    """Whether a number written without its country code is none of the
    region it was read in: most likely a number of another country. One
    written with its code is taken as given, in a range the library may not
    know yet."""
    from_region = number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
    return from_region and not phonenumbers.is_valid_number(number)


def _doubt(text: str, region: str) -> str:
    if text.startswith("+"):
        return (
            f"{text!r} is not a phone number of the country its code names; it "
            "is kept as typed and cannot be dialled"
        )
    return (
        f"{text!r} is not a phone number in {region}, where numbers without a "
        "country code are read (THREADLINE_DEFAULT_REGION); it is kept as typed "
        "and cannot be dialled: write it with its country code, as +49 30 901820"
    )


def parsed_number(e164: str) -> phonenumbers.PhoneNumber | None:
    """The number a stored E.164 value stands for; None if it is not one."""
    number = _RECENT_NUMBERS.get(e164)
    if number is not None:
        return number
    try:
        return phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return None


def _remember(e164: str, number: phonenumbers.PhoneNumber) -> None:
    """Keep a number just parsed for parsed_number, which the search keys of
    a new customer ask for next: parsing is most of the work of both."""
    if number.extension:
        return
    if len(_RECENT_NUMBERS) >= RECENT_NUMBERS:
        _RECENT_NUMBERS.clear()
    _RECENT_NUMBERS[e164] = number


def phone_search_keys(raw: str) -> list[str]:
    """Return the values a typed phone may be stored under, best first."""
    text = raw.strip()
    try:
        parts = normalise_phone(text)
    except InvalidInput:
        return []
    keys = [parts.value]
    digits = NOT_DIGITS.sub("", text)
    if digits not in keys:
        keys.append(digits)
    return keys


def format_phone(e164: str, extension: str = "") -> str:
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    text = phonenumbers.format_number(
        number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return f"{text} ext. {extension}" if extension else text


def one_line_address(*parts: str) -> str:
    return ", ".join(part.strip() for part in parts if part and part.strip())
