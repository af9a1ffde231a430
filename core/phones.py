"""Phone numbers in E.164, the one form in which messengers and bookings can be matched."""

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
    text = raw.strip()
    guessed = not text.startswith("+") and region is None
    try:
        number = phonenumbers.parse("+" + text if guessed else text, region)
    except phonenumbers.NumberParseException as exc:
        reason = NEEDS_COUNTRY if guessed else str(exc)
        raise ValidationFailed(f"{raw!r} is not a phone number: {reason}", field=field) from None
    if not phonenumbers.is_valid_number(number):
        reason = NEEDS_COUNTRY if guessed else "no such number"
        raise ValidationFailed(f"{raw!r} is not a valid phone number: {reason}", field=field)
    if number.extension:
        raise ValidationFailed(
            f"{raw!r} has an extension ({number.extension}): store the number without it",
            field=field,
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
