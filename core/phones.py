"""Phone numbers in E.164, the one form in which messengers and bookings can be matched."""

from functools import lru_cache

import phonenumbers

from core.errors import ValidationFailed

NEEDS_COUNTRY = (
    "needs a country code (e.g. +44 20 7946 0958); FUNNELBOX_PHONE_REGION sets the country of"
    " numbers typed without one"
)


def normalize_phone(raw: str, *, region: str | None = None, field: str = "phone") -> str:
    """Return ``raw`` as E.164 (``+14155550123``).

    Numbers without a leading ``+`` are read in ``region`` (ISO 3166 code) when one is
    given; WhatsApp's ``wa_id`` style (country code, no plus) is accepted without one.
    An extension is refused rather than dropped: E.164 has no room for it.
    """
    e164, complaint = _e164(raw.strip(), region)
    if complaint:
        raise ValidationFailed(f"{raw!r} {complaint}", field=field)
    return e164


@lru_cache(maxsize=4096)
def _e164(text: str, region: str | None) -> tuple[str, str]:
    """The number in E.164, or what is wrong with it. Cached: every incoming message
    carries its sender's number, and parsing one is most of the cost of reading a
    message (a customer writes many)."""
    guessed = not text.startswith("+") and region is None
    try:
        number = phonenumbers.parse("+" + text if guessed else text, region)
    except phonenumbers.NumberParseException as exc:
        return "", f"is not a phone number: {NEEDS_COUNTRY if guessed else exc}"
    if not phonenumbers.is_valid_number(number):
        return "", f"is not a valid phone number: {NEEDS_COUNTRY if guessed else 'no such number'}"
    if number.extension:
        return "", f"has an extension ({number.extension}): store the number without it"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""
