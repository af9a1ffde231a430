"""Every API failure is JSON {"error": {code, message, field}} with a fitting status."""

import random

import pytest

from core.storable import MAX_DEPTH
from funnels.models import Pipeline
from inbox.models import Contact
from tests.asserts import assert_error
from tests.conftest import Api


async def test_malformed_json_is_400_and_writes_nothing(api: Api) -> None:
    status, body = await api.call(
        "POST", "/api/v1/pipelines", data=b'{"name": "Sales",', headers={}
    )
    assert status == 400
    assert body["error"]["code"] == "malformed_json"
    assert body["error"]["field"] == "body"
    assert await Pipeline.all().count() == 0


async def test_a_body_that_is_not_utf8_is_400(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/pipelines", data=b'{"name": "\x80"}')
    assert status == 400 and body["error"]["code"] == "malformed_json", body
    assert "UTF-8" in body["error"]["message"] and body["error"]["field"] == "body"
    assert await Pipeline.all().count() == 0


async def test_missing_body_is_400(api: Api) -> None:
    status, body = await api.call("POST", "/api/v1/pipelines")
    assert status == 400 and body["error"]["code"] == "malformed_json"


async def test_wrong_types_name_the_field(api: Api) -> None:
    status, body = await api.post("/api/v1/pipelines", {"name": ["Sales"]})
    assert status == 422
    assert body["error"] == {
        "code": "validation_failed",
        "message": body["error"]["message"],
        "field": "name",
    }
    status, body = await api.post("/api/v1/pipelines", {"name": "S", "colour": "#ffffff"})
    assert status == 422 and body["error"]["field"] == "colour"
    status, body = await api.post("/api/v1/pipelines", [1, 2])
    assert status == 422


async def test_unknown_ids_and_routes_are_json_404(api: Api) -> None:
    for path in ("/api/v1/deals/999", "/api/v1/deals/abc", "/api/v1/nothing-here"):
        status, body = await api.get(path)
        assert status == 404, path
        assert body["error"]["code"] in {"not_found"}, path


async def test_wrong_method_is_json_405(api: Api) -> None:
    status, body = await api.call("PUT", "/api/v1/deals")
    assert status == 405
    assert body["error"]["code"] == "method_not_allowed"


async def test_json_nested_too_deep_is_400_and_writes_nothing(api: Api) -> None:
    for depth in (100_000, 40):
        deep = b"[" * depth + b"]" * depth
        status, body = await api.call("POST", "/api/v1/pipelines", data=deep)
        assert_error(status, body, 400, "malformed_json", "body")
        assert "deeper than" in body["error"]["message"]
    status, body = await api.post("/api/v1/contacts", {"name": "Ann", "phone": None})
    assert status == 201, body  # a shallow body still goes through
    assert await Pipeline.all().count() == 0


async def test_text_no_database_can_store_is_422_naming_the_field(api: Api) -> None:
    for bad in ("Ann\u0000", "Ann\ud800"):
        status, body = await api.post("/api/v1/contacts", {"name": bad})
        assert_error(status, body, 422, "validation_failed", "name")
    status, body = await api.post("/api/v1/pipelines", {"name": "Sales", "stages\u0000": 1})
    assert_error(status, body, 422, "validation_failed", "stages\u0000")
    status, body = await api.get("/api/v1/contacts?search=%00")
    assert_error(status, body, 422, "validation_failed", "search")
    assert await Contact.all().count() == 0 and await Pipeline.all().count() == 0


async def test_json_answers_end_with_a_newline(api: Api) -> None:
    for path in ("/api/v1/pipelines", "/api/v1/nothing-here", "/healthz"):
        async with api.client.get(path, headers={"Authorization": f"Bearer {api.token}"}) as r:
            assert (await r.read()).endswith(b"\n"), path


#: Text no database stores, put anywhere in an otherwise fine value, for every text-taking
#: create endpoint: a seeded sweep (a fixed set, so a failure repeats).
UNSTORABLE_TEXT = ["\u0000", "\ud800", "\udfff", "a\u0000b"]
CREATES = [
    ("/api/v1/contacts", "name", {}),
    ("/api/v1/pipelines", "name", {}),
    ("/api/v1/tags", "name", {}),
    ("/api/v1/lost-reasons", "name", {}),
    ("/api/v1/custom-fields", "name", {"kind": "text"}),
]


@pytest.mark.parametrize("seed", range(6))
async def test_unstorable_text_anywhere_is_a_422_on_every_create(api: Api, seed: int) -> None:
    rng = random.Random(seed)
    for path, field, extra in CREATES:
        bad = rng.choice(UNSTORABLE_TEXT)
        name = "Customer name"
        at = rng.randrange(len(name) + 1)
        status, body = await api.post(path, {field: name[:at] + bad + name[at:], **extra})
        assert_error(status, body, 422, "validation_failed", field)
    depth = rng.randrange(MAX_DEPTH + 1, 5_000)
    status, body = await api.call(
        "POST", "/api/v1/contacts", data=b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    )
    assert_error(status, body, 400, "malformed_json", "body")
    assert await Contact.all().count() == 0 and await Pipeline.all().count() == 0
