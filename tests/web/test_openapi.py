"""The OpenAPI document lives in the repository and describes every route."""

import json
from pathlib import Path

from tests.conftest import Api
from web.app import create_app
from web.middleware import is_page
from web.routes.system import document

COMMITTED = Path(__file__).parents[2] / "web" / "openapi.json"


def test_every_route_is_documented(db) -> None:
    app = create_app(db.settings(), own_database=False)
    doc = document()
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and not is_page(route.resource.canonical)
    }
    documented = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert routes == documented
    # the server-rendered pages are not the API: none of them hides under its prefixes
    assert not any(is_page(path) for path in doc["paths"])


def test_committed_document_is_current() -> None:
    assert json.loads(COMMITTED.read_text()) == document(), (
        "web/openapi.json is stale: run `make openapi`"
    )


def test_document_is_openapi_3_1_with_resolvable_refs() -> None:
    doc = document()
    assert doc["openapi"] == "3.1.0"
    text = json.dumps(doc)
    schemas = doc["components"]["schemas"]
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
        assert ref in schemas, ref


async def test_served_document_matches(anon: Api) -> None:
    status, body = await anon.get("/api/v1/openapi.json")
    assert status == 200 and body == document()


def test_moving_to_another_pipelines_stage_is_documented() -> None:
    move = document()["paths"]["/api/v1/deals/{deal_id}/move"]["post"]
    assert "another pipeline" in move["description"]
