"""Every API failure is JSON {"error": {code, message, field}} with a fitting status."""

from funnels.models import Pipeline
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
