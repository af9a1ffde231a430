"""Contacts over the API: E.164 phones, e-mail checks, partial edits, search, pages, events."""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import phonenumbers
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.exceptions import IntegrityError

from core.errors import ValidationFailed
from core.models import Event, User
from core.phones import normalize_phone
from inbox import service
from inbox.models import Contact
from tests.asserts import assert_error
from tests.conftest import Api
from web.app import create_app

CONTACTS = "/api/v1/contacts"


async def create(api: Api, **fields: object) -> dict:
    status, body = await api.post(CONTACTS, json=fields)
    assert status == 201, body
    return body


# --- phones ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "e164"),
    [
        ("+1 (415) 555-2671", "+14155552671"),
        ("+1 415 555 2671", "+14155552671"),
        ("+1.415.555.2671", "+14155552671"),
        ("+14155552671", "+14155552671"),
        ("14155552671", "+14155552671"),  # WhatsApp wa_id: country code without the plus
        ("  +1-415-555-2671  ", "+14155552671"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("+49 30 901820", "+4930901820"),
        ("+7 912 345-67-89", "+79123456789"),
    ],
)
async def test_phone_is_stored_as_e164(api: Api, typed: str, e164: str) -> None:
    created = await create(api, name="Ann", phone=typed)
    assert created["phone"] == e164
    assert (await Contact.get(id=created["id"])).phone == e164
    status, got = await api.get(f"{CONTACTS}/{created['id']}")
    assert (status, got["phone"]) == (200, e164)


@pytest.mark.parametrize(
    "typed",
    [
        "hello",
        "+1 555",
        "+1 (415) 555-267",
        "+999 1234 5678",
        "+44 20 7946 095",
        "(415) 555-2671",  # national format but no phone region configured
        "   ",
        "+",
    ],
)
async def test_invalid_phone_gives_422(api: Api, typed: str) -> None:
    status, body = await api.post(CONTACTS, json={"name": "Ann", "phone": typed})
    assert_error(status, body, 422, "validation_failed", "phone")
    assert await Contact.all().count() == 0
    assert not await Event.filter(kind="contact.created").exists()


async def test_overlong_phone_is_rejected_by_the_schema(api: Api) -> None:
    status, body = await api.post(CONTACTS, json={"name": "Ann", "phone": "1" * 41})
    assert_error(status, body, 422, "validation_failed", "phone")


async def test_phone_must_be_a_string(api: Api) -> None:
    status, body = await api.post(CONTACTS, json={"name": "Ann", "phone": 14155552671})
    assert_error(status, body, 422, "validation_failed", "phone")


async def test_a_number_without_country_code_says_how_to_fix_it(api: Api) -> None:
    status, body = await api.post(CONTACTS, json={"name": "Ann", "phone": "020 7946 0960"})
    assert_error(status, body, 422, "validation_failed", "phone")
    assert "country code" in body["error"]["message"]
    assert "FUNNELBOX_PHONE_REGION" in body["error"]["message"]


async def test_an_extension_is_refused_not_dropped(api: Api) -> None:
    status, body = await api.post(
        CONTACTS, json={"name": "Ann", "phone": "+1 415 555 2671 ext. 12"}
    )
    assert_error(status, body, 422, "validation_failed", "phone")
    assert "extension (12)" in body["error"]["message"]
    assert await Contact.all().count() == 0


async def test_one_phone_is_one_contact(api: Api) -> None:
    ann = await create(api, name="Ann", phone="+14155552671")
    status, body = await api.post(CONTACTS, json={"name": "Annie", "phone": "+1 415 555 2671"})
    assert_error(status, body, 409, "conflict", "phone")
    assert f"contact {ann['id']} (Ann)" in body["error"]["message"]
    bob = await create(api, name="Bob")
    status, body = await api.patch(f"{CONTACTS}/{bob['id']}", json={"phone": "+14155552671"})
    assert_error(status, body, 409, "conflict", "phone")
    status, _ = await api.patch(f"{CONTACTS}/{ann['id']}", json={"phone": "+14155552671"})
    assert status == 200  # a contact keeps its own phone
    assert await Contact.all().count() == 2


async def test_concurrent_creates_with_one_phone_make_one_contact(api: Api) -> None:
    """The service's check cannot see a create that has not committed yet: the database's
    unique index decides, and each loser gets the same 409 naming the winner."""
    answers = await asyncio.gather(
        *(api.post(CONTACTS, json={"name": f"Ann {n}", "phone": "+14155552671"}) for n in range(8))
    )
    created = [body for status, body in answers if status == 201]
    assert len(created) == 1, answers
    winner = created[0]
    for status, body in answers:
        if status != 201:
            assert_error(status, body, 409, "conflict", "phone")
            assert f"contact {winner['id']} ({winner['name']})" in body["error"]["message"]
    assert await Contact.filter(phone="+14155552671").count() == 1
    assert await Event.filter(kind="contact.created").count() == 1


async def test_concurrent_edits_to_one_phone_leave_it_with_one_contact(api: Api) -> None:
    ids = [(await create(api, name=f"Bo {n}"))["id"] for n in range(6)]
    answers = await asyncio.gather(
        *(api.patch(f"{CONTACTS}/{i}", json={"phone": "+14155552671"}) for i in ids)
    )
    assert sorted(status for status, _ in answers) == [200] + [409] * 5, answers
    for status, body in answers:
        if status != 200:
            assert_error(status, body, 409, "conflict", "phone")
    assert await Contact.filter(phone="+14155552671").count() == 1


async def test_the_database_itself_refuses_a_second_contact_with_a_phone(db) -> None:
    await Contact.create(name="Ann", phone="+14155552671")
    await Contact.create(name="No phone")
    await Contact.create(name="No phone either")  # many contacts have none
    with pytest.raises(IntegrityError):
        await Contact.create(name="Annie", phone="+14155552671")


@pytest.fixture
async def gb_api(db, admin: User) -> AsyncIterator[Api]:
    """A second server whose phone region is GB, signed in as the admin."""
    from core import tokens

    app = create_app(db.settings(phone_region="GB"), own_database=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield Api(client, await tokens.issue_token(user=admin))


async def test_national_numbers_use_the_configured_region(gb_api: Api) -> None:
    created = await create(gb_api, name="Ann", phone="020 7946 0958")
    assert created["phone"] == "+442079460958"
    # international numbers are unaffected by the region
    created = await create(gb_api, name="Bob", phone="+1 (415) 555-2671")
    assert created["phone"] == "+14155552671"
    status, edited = await gb_api.patch(
        f"{CONTACTS}/{created['id']}", json={"phone": "07400 123456"}
    )
    assert (status, edited["phone"]) == (200, "+447400123456")


REGIONS = ["US", "GB", "DE", "FR", "RU", "IN", "BR", "JP", "AU", "IT", "ES", "UA"]
TYPES = [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
STYLES = [
    phonenumbers.PhoneNumberFormat.NATIONAL,
    phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    phonenumbers.PhoneNumberFormat.E164,
]


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str, str]:
    """(region, the number as a person would write it there, its E.164 form)."""
    region = draw(st.sampled_from(REGIONS))
    example = phonenumbers.example_number_for_type(region, draw(st.sampled_from(TYPES)))
    assert example is not None
    # vary the last digits so each region gives many numbers, not just its example
    national = str(example.national_number)
    tail = draw(st.integers(min_value=0, max_value=3))
    if tail:
        digits = draw(st.text("0123456789", min_size=tail, max_size=tail))
        national = national[:-tail] + digits
    number = phonenumbers.PhoneNumber(
        country_code=example.country_code,
        national_number=int(national),
        italian_leading_zero=example.italian_leading_zero,
        number_of_leading_zeros=example.number_of_leading_zeros,
    )
    if not phonenumbers.is_valid_number_for_region(number, region):
        number = example
    written = phonenumbers.format_number(number, draw(st.sampled_from(STYLES)))
    padding = draw(st.sampled_from(["", " ", "\t", "  "]))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return region, f"{padding}{written}{padding}", e164


@settings(max_examples=300, deadline=None, database=None)
@given(written_numbers())
def test_written_numbers_round_trip_to_e164(case: tuple[str, str, str]) -> None:
    region, written, e164 = case
    assert normalize_phone(written, region=region) == e164
    # the normal form is a fixed point, with or without a region
    assert normalize_phone(e164, region=region) == e164
    assert normalize_phone(e164) == e164
    # and wa_id style (country code, no plus) reads the same without a region
    assert normalize_phone(e164.lstrip("+")) == e164


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.text(max_size=40))
def test_normalize_phone_accepts_e164_or_raises_validation_failed(raw: str) -> None:
    try:
        result = normalize_phone(raw)
    except ValidationFailed as exc:
        assert exc.field == "phone"
        return
    assert result.startswith("+")
    assert result[1:].isdigit()
    assert len(result) <= 16
    assert phonenumbers.is_valid_number(phonenumbers.parse(result))


def test_normalize_phone_names_the_given_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_phone("nope", field="contacts.0.phone")
    assert caught.value.field == "contacts.0.phone"


# --- e-mail and name ------------------------------------------------------------------


async def test_email_is_normalised(api: Api) -> None:
    created = await create(api, name="Ann", email="  Ann.Lee@Example.COM ")
    assert created["email"] == "ann.lee@example.com"
    assert created["phone"] is None


@pytest.mark.parametrize(
    "email", ["ann", "ann@", "@example.com", "ann@example", "ann@@example.com", "a b@example.com"]
)
async def test_invalid_email_gives_422(api: Api, email: str) -> None:
    status, body = await api.post(CONTACTS, json={"name": "Ann", "email": email})
    assert_error(status, body, 422, "validation_failed", "email")
    assert await Contact.all().count() == 0


@pytest.mark.parametrize("name", ["", "   ", None])
async def test_name_is_required(api: Api, name: str | None) -> None:
    status, body = await api.post(CONTACTS, json={"name": name})
    assert_error(status, body, 422, "validation_failed", "name")


async def test_missing_name_gives_422(api: Api) -> None:
    status, body = await api.post(CONTACTS, json={"phone": "+14155552671"})
    assert_error(status, body, 422, "validation_failed", "name")


async def test_unknown_key_gives_422(api: Api) -> None:
    status, body = await api.post(CONTACTS, json={"name": "Ann", "telephone": "+14155552671"})
    assert_error(status, body, 422, "validation_failed", "telephone")


async def test_create_returns_the_stored_contact(api: Api, admin: User) -> None:
    created = await create(
        api, name="  Ann Lee ", phone="+1 (415) 555-2671", email="ann@example.com"
    )
    assert set(created) == {"id", "name", "phone", "email", "created_at"}
    assert created["name"] == "Ann Lee"
    assert datetime.fromisoformat(created["created_at"]).tzinfo is not None
    stored = await Contact.get(id=created["id"])
    assert (stored.name, stored.phone, stored.email) == (
        "Ann Lee",
        "+14155552671",
        "ann@example.com",
    )
    event = await Event.get(kind="contact.created")
    assert event.data == {"contact_id": created["id"], "name": "Ann Lee"}
    assert event.actor_id == admin.id


async def test_empty_phone_and_email_are_stored_as_null(api: Api) -> None:
    created = await create(api, name="Ann", phone="", email="")
    assert (created["phone"], created["email"]) == (None, None)


# --- editing --------------------------------------------------------------------------


async def test_patch_changes_only_given_fields(api: Api) -> None:
    created = await create(api, name="Ann", phone="+14155552671", email="ann@example.com")
    url = f"{CONTACTS}/{created['id']}"

    status, edited = await api.patch(url, json={"name": "Anna"})
    assert status == 200
    assert edited == created | {"name": "Anna"}

    status, edited = await api.patch(url, json={"email": "ANNA@example.com"})
    assert edited == created | {"name": "Anna", "email": "anna@example.com"}

    status, edited = await api.patch(url, json={"phone": "+44 20 7946 0958"})
    assert edited == created | {
        "name": "Anna",
        "email": "anna@example.com",
        "phone": "+442079460958",
    }
    status, got = await api.get(url)
    assert (status, got) == (200, edited)


async def test_patch_null_clears(api: Api) -> None:
    created = await create(api, name="Ann", phone="+14155552671", email="ann@example.com")
    url = f"{CONTACTS}/{created['id']}"
    status, edited = await api.patch(url, json={"phone": None})
    assert status == 200
    assert edited["phone"] is None
    assert edited["email"] == "ann@example.com"
    assert edited["name"] == "Ann"
    assert (await Contact.get(id=created["id"])).phone is None
    status, edited = await api.patch(url, json={"email": None})
    assert (edited["phone"], edited["email"], edited["name"]) == (None, None, "Ann")


async def test_patch_null_name_is_refused(api: Api) -> None:
    created = await create(api, name="Ann")
    url = f"{CONTACTS}/{created['id']}"
    for name in (None, "", "   "):
        status, body = await api.patch(url, json={"name": name})
        assert_error(status, body, 422, "validation_failed", "name")
    assert (await Contact.get(id=created["id"])).name == "Ann"


async def test_patch_validates_phone_and_email(api: Api) -> None:
    created = await create(api, name="Ann", phone="+14155552671", email="ann@example.com")
    url = f"{CONTACTS}/{created['id']}"
    status, body = await api.patch(url, json={"phone": "+1 555"})
    assert_error(status, body, 422, "validation_failed", "phone")
    status, body = await api.patch(url, json={"email": "nope"})
    assert_error(status, body, 422, "validation_failed", "email")
    # a bad field spoils the whole edit: nothing is half-applied
    status, body = await api.patch(url, json={"name": "Anna", "email": "nope"})
    assert_error(status, body, 422, "validation_failed", "email")
    stored = await Contact.get(id=created["id"])
    assert (stored.name, stored.phone, stored.email) == ("Ann", "+14155552671", "ann@example.com")
    assert not await Event.filter(kind="contact.updated").exists()


async def test_patch_unknown_key_gives_422(api: Api) -> None:
    created = await create(api, name="Ann")
    status, body = await api.patch(f"{CONTACTS}/{created['id']}", json={"nmae": "Anna"})
    assert_error(status, body, 422, "validation_failed", "nmae")


async def test_update_records_from_and_to(api: Api, admin: User) -> None:
    created = await create(api, name="Ann", phone="+14155552671")
    url = f"{CONTACTS}/{created['id']}"
    status, _ = await api.patch(
        url, json={"name": "Anna", "phone": None, "email": "anna@example.com"}
    )
    assert status == 200
    events = await Event.filter(kind="contact.updated")
    assert len(events) == 1
    event = events[0]
    assert event.actor_id == admin.id
    assert event.deal_id is None
    assert event.data == {
        "contact_id": created["id"],
        "changes": {
            "name": {"from": "Ann", "to": "Anna"},
            "phone": {"from": "+14155552671", "to": None},
            "email": {"from": None, "to": "anna@example.com"},
        },
    }


async def test_update_without_changes_records_nothing(api: Api) -> None:
    created = await create(api, name="Ann", phone="+14155552671")
    url = f"{CONTACTS}/{created['id']}"
    # the same values, written differently, are no change
    status, edited = await api.patch(url, json={"name": " Ann ", "phone": "+1 (415) 555-2671"})
    assert (status, edited) == (200, created)
    status, edited = await api.patch(url, json={})
    assert (status, edited) == (200, created)
    assert not await Event.filter(kind="contact.updated").exists()


async def test_operator_edit_is_attributed_to_operator(anon: Api, operator: User) -> None:
    client = await anon.as_user(operator)
    created = await create(client, name="Ann")
    status, _ = await client.patch(f"{CONTACTS}/{created['id']}", json={"name": "Anna"})
    assert status == 200
    event = await Event.get(kind="contact.updated")
    assert event.actor_id == operator.id


async def test_service_update_ignores_unset_fields(admin: User) -> None:
    contact = await service.create_contact(
        actor=admin, name="Ann", phone="+14155552671", email="ann@example.com"
    )
    updated = await service.update_contact(actor=admin, contact_id=contact.id, email=None)
    assert (updated.name, updated.phone, updated.email) == ("Ann", "+14155552671", None)
    stored = await Contact.get(id=contact.id)
    assert (stored.name, stored.phone, stored.email) == ("Ann", "+14155552671", None)


# --- unknown contacts -----------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PATCH"])
async def test_unknown_contact_gives_404(api: Api, method: str) -> None:
    existing = await create(api, name="Ann")
    missing = existing["id"] + 1000
    status, body = await api.call(method, f"{CONTACTS}/{missing}", json={"name": "Bob"})
    assert_error(status, body, 404, "not_found", "contact_id")
    assert str(missing) in body["error"]["message"]
    assert (await Contact.get(id=existing["id"])).name == "Ann"


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "9" * 30])
async def test_non_numeric_contact_id_gives_404(api: Api, raw: str) -> None:
    status, body = await api.get(f"{CONTACTS}/{raw}")
    assert_error(status, body, 404, "not_found", "contact_id")


async def test_unknown_contact_deals_gives_404(api: Api) -> None:
    status, body = await api.get(f"{CONTACTS}/424242/deals")
    assert_error(status, body, 404, "not_found", "contact_id")


# --- search and pages -----------------------------------------------------------------


@pytest.fixture
async def people(api: Api) -> dict[str, int]:
    rows = [
        ("Ann Lee", "+14155552671", "ann@example.com"),
        ("Bob Stone", "+442079460958", "bob@work.example.org"),
        ("Carla Annenberg", None, "carla@example.net"),
        ("Dmitri", "+79123456789", None),
        ("100% Real_Name", None, None),
    ]
    ids = {}
    for name, phone, email in rows:
        ids[name] = (await create(api, name=name, phone=phone, email=email))["id"]
    return ids


async def search(api: Api, text: str) -> list[str]:
    status, found = await api.get(CONTACTS, params={"search": text})
    assert status == 200, found
    return [c["name"] for c in found]


async def test_list_without_search_returns_everyone_by_id(api: Api, people: dict) -> None:
    status, found = await api.get(CONTACTS)
    assert status == 200
    assert [c["id"] for c in found] == sorted(people.values())
    assert [c["name"] for c in found] == list(people)


async def test_search_by_name_fragment_any_case(api: Api, people: dict) -> None:
    assert await search(api, "ann") == ["Ann Lee", "Carla Annenberg"]
    assert await search(api, "STONE") == ["Bob Stone"]
    assert await search(api, "nobody") == []


async def test_search_by_phone_fragment(api: Api, people: dict) -> None:
    assert await search(api, "5552671") == ["Ann Lee"]
    assert await search(api, "+44") == ["Bob Stone"]
    assert await search(api, "+7912") == ["Dmitri"]


async def test_search_by_phone_fragment_as_people_write_it(api: Api, people: dict) -> None:
    assert await search(api, "555-2671") == ["Ann Lee"]
    assert await search(api, "(415) 555") == ["Ann Lee"]
    assert await search(api, "+44 20 7946") == ["Bob Stone"]
    assert await search(api, "912 345-67-89") == ["Dmitri"]


async def test_search_by_email_fragment(api: Api, people: dict) -> None:
    assert await search(api, "@example.com") == ["Ann Lee"]
    assert await search(api, "WORK.example") == ["Bob Stone"]
    assert await search(api, "example") == ["Ann Lee", "Bob Stone", "Carla Annenberg"]


async def test_search_treats_wildcards_literally(api: Api, people: dict) -> None:
    assert await search(api, "%") == ["100% Real_Name"]
    assert await search(api, "_") == ["100% Real_Name"]
    assert await search(api, "l_e") == []


async def test_search_combines_with_pages(api: Api, people: dict) -> None:
    status, first = await api.get(CONTACTS, params={"search": "example", "limit": "2"})
    assert status == 200
    assert [c["name"] for c in first] == ["Ann Lee", "Bob Stone"]
    status, rest = await api.get(
        CONTACTS, params={"search": "example", "limit": "2", "after_id": str(first[-1]["id"])}
    )
    assert [c["name"] for c in rest] == ["Carla Annenberg"]


async def test_pagination_with_after_id_and_limit(api: Api) -> None:
    ids = [(await create(api, name=f"Person {i}"))["id"] for i in range(7)]
    seen: list[int] = []
    after = 0
    pages = 0
    while True:
        status, page = await api.get(CONTACTS, params={"after_id": str(after), "limit": "3"})
        assert status == 200
        if not page:
            break
        pages += 1
        assert len(page) <= 3
        seen += [c["id"] for c in page]
        after = page[-1]["id"]
    assert seen == ids
    assert pages == 3
    status, page = await api.get(CONTACTS, params={"after_id": str(ids[4]), "limit": "50"})
    assert [c["id"] for c in page] == ids[5:]
    status, page = await api.get(CONTACTS, params={"after_id": str(ids[-1])})
    assert (status, page) == (200, [])


async def test_default_page_size_is_50(api: Api) -> None:
    for i in range(55):
        await service.create_contact(actor=None, name=f"P{i}")
    status, page = await api.get(CONTACTS)
    assert (status, len(page)) == (200, 50)
    status, page = await api.get(CONTACTS, params={"limit": "200"})
    assert (status, len(page)) == (200, 55)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"after_id": "-1"}, "after_id"),
        ({"after_id": "x"}, "after_id"),
        ({"search": "x" * 101}, "search"),
        ({"q": "ann"}, "q"),
    ],
)
async def test_bad_list_parameters_give_422(api: Api, params: dict, field: str) -> None:
    status, body = await api.get(CONTACTS, params=params)
    assert_error(status, body, 422, "validation_failed", field)


async def test_contacts_need_sign_in(anon: Api, db) -> None:
    status, body = await anon.get(CONTACTS)
    assert_error(status, body, 401, "unauthenticated", None)
    status, body = await anon.post(CONTACTS, json={"name": "Ann"})
    assert status == 401
    assert await Contact.all().count() == 0
