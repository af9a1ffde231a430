"""The demo's made-up customers look like real ones: their phones are valid numbers."""

import random

import phonenumbers

from web.demo.people import generated


def test_generated_phones_are_valid_mobile_numbers() -> None:
    phones = [c.phone for c in generated(300, random.Random(7)) if c.phone]
    assert len(phones) > 150
    for phone in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number), phone
        assert phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE, phone
