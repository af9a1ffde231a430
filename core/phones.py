"""Phone numbers in E.164, the one form in which messengers and bookings can be matched."""

import phonenumbers

from core.errors import ValidationFailed


def normalize_phone(raw: str, *, region: str | None = None, field: str = "phone") -> str:
    """Return ``raw`` as E.164 (``+14155550123``).

    Numbers without a leading ``+`` are read in ``region`` (ISO 3166 code) when one is
    given; WhatsApp's ``wa_id`` style (country code, no plus) is accepted without one.
    """
    text = raw.strip()
    if not text.startswith("+") and region is None:
        text = "+" + text
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"not a phone number: {exc}", field=field) from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"not a valid phone number: {raw!r}", field=field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
