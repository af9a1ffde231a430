"""A small route table that parses input with pydantic and writes the OpenAPI document.

Each endpoint declares its method, path, roles, body/query models and response model
once; the same declaration registers the aiohttp route, validates requests, checks the
caller's role and produces its entry in ``/api/v1/openapi.json``.
"""

import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from core.errors import NotFound, PermissionDenied, Unauthenticated, ValidationFailed
from core.models import Role, User
from core.storable import checked_text, too_deep
from web.keys import USER

Handler = Callable[..., Awaitable[Any]]
ADMINS = frozenset({Role.OWNER, Role.ADMIN})
EVERYONE = frozenset(Role)
PATH_PARAM = re.compile(r"{(\w+)}")


@dataclass
class Endpoint:
    """One API operation."""

    method: str
    path: str
    handler: Handler
    summary: str
    roles: frozenset[Role] | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    tag: str
    #: A multipart form (a file upload) instead of a JSON body.
    form: type[BaseModel] | None = None

    @property
    def path_params(self) -> list[str]:
        """Path placeholders; all of them are integer ids."""
        return PATH_PARAM.findall(self.path)


def actor(request: web.Request) -> User:
    """The signed-in user; only endpoints with roles call this, so there is one."""
    return request[USER]


class Api:
    """Collects endpoints from the route modules and serves them."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        roles: frozenset[Role] | None = ADMINS,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        form: type[BaseModel] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare an endpoint; ``roles=None`` makes it public. An endpoint with a ``form``
        takes ``multipart/form-data`` up to the application's ``client_max_size``."""

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method, path, handler, summary, roles, body, query, response, status, tag, form
                )
            )
            return handler

        return register

    def install(self, app: web.Application) -> None:
        """Add every endpoint to the aiohttp router; note which take uploads."""
        app[UPLOADS] = frozenset((e.method, e.path) for e in self.endpoints if e.form is not None)
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _view(endpoint))


#: The (method, path) of the endpoints that take a file, and so a body past BODY_LIMIT.
UPLOADS = web.AppKey("uploads", frozenset[tuple[str, str]])
#: The largest body of any other request: JSON, webhooks, page forms.
BODY_LIMIT = 1024**2


def _view(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    adapter = TypeAdapter(endpoint.response) if endpoint.response is not None else None

    async def view(request: web.Request) -> web.StreamResponse:
        _check_role(request.get(USER), endpoint.roles)
        kwargs: dict[str, Any] = {name: _path_int(request, name) for name in endpoint.path_params}
        if endpoint.query is not None:
            query = checked_text(dict(request.query))
            kwargs["query"] = parse_input(endpoint.query, query, location="query")
        if endpoint.body is not None:
            kwargs["body"] = parse_input(endpoint.body, await json_body(request), location="body")
        if endpoint.form is not None:
            kwargs["form"] = parse_input(endpoint.form, await form_body(request), location="body")
        result = await endpoint.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result
        if adapter is None:
            return web.Response(status=endpoint.status if result is None else 200)
        payload = adapter.dump_json(result) + b"\n"
        return web.Response(body=payload, status=endpoint.status, content_type="application/json")

    view.__doc__ = endpoint.summary
    return view


def _check_role(user: User | None, roles: frozenset[Role] | None) -> None:
    if roles is None:
        return
    if user is None:
        raise Unauthenticated("sign in or send an Authorization: Bearer token")
    if user.role not in roles:
        raise PermissionDenied(f"the {user.role.value} role cannot do this")


def _path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"{name} must be a numeric id", field=name)
    return int(raw)


async def json_body(request: web.Request, *, repair: bool = False, checked: bool = True) -> Any:
    """The request's JSON, or a 400 naming what is malformed. Text no database can store
    is refused (422), or with ``repair`` cleaned: a platform's webhook carries what a
    customer typed, and that message must be kept, not refused forever. ``checked=False``
    leaves that check to the caller, item by item (a WhatsApp body's)."""
    try:
        text = (await request.read()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(
            f"the body is not UTF-8 (byte {exc.start})", field="body", code="malformed_json"
        ) from None
    if not text.strip():
        raise ValidationFailed("the request needs a JSON body", field="body", code="malformed_json")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            field="body",
            code="malformed_json",
        ) from None
    except RecursionError:  # deeper than Python's parser goes: far past MAX_DEPTH
        raise too_deep() from None
    return checked_text(data, repair=repair) if checked else data


async def form_body(request: web.Request) -> dict[str, Any]:
    """A multipart form's fields (text checked like JSON text; files as aiohttp keeps
    them, in a temporary file), or a 400 when the body is not such a form."""
    if request.content_type != "multipart/form-data":
        raise ValidationFailed(
            "send the file as multipart/form-data", field="body", code="malformed_form"
        )
    try:
        form = await request.post()
    except (ValueError, HttpProcessingError) as exc:  # a broken multipart body
        raise ValidationFailed(
            f"malformed multipart body: {exc}", field="body", code="malformed_form"
        ) from None
    return {key: checked_text(value, path=(key,)) for key, value in form.items()}


def json_response(data: Any, *, status: int = 200) -> web.Response:
    """JSON ending in a newline, so curl's output does not run into the prompt."""
    return web.json_response(data, status=status, dumps=lambda obj: json.dumps(obj) + "\n")


def parse_input(model: type[BaseModel], data: Any, *, location: str) -> BaseModel:
    """``data`` as ``model``, or a :class:`ValidationFailed` naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # an unknown key is the likeliest typo: name it before the fields it hides
        first = min(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
        where = ".".join(str(part) for part in first["loc"]) or location
        raise ValidationFailed(f"{where}: {first['msg']}", field=where) from None


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": ["string", "null"]},
            },
        }
    },
}


def openapi_document(endpoints: Iterable[Endpoint], *, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 description of ``endpoints``, schemas from the pydantic models."""
    endpoints = list(endpoints)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for e in endpoints:
        models += [(m, "validation") for m in (e.body, e.query, e.form) if m is not None]
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        paths.setdefault(e.path, {})[e.method.lower()] = _operation(e, schemas)
    schemas["Error"] = ERROR_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": "Funnelbox API", "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "funnelbox_session"},
            },
        },
    }


def _operation(e: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": e.summary,
        "operationId": e.handler.__name__,
        "tags": [e.tag],
        "parameters": [
            {"name": n, "in": "path", "required": True, "schema": {"type": "integer"}}
            for n in e.path_params
        ],
        "responses": _responses(e, schemas),
    }
    if description := inspect.getdoc(e.handler):  # a view's docstring says what a user must know
        op["description"] = description
    if e.query is not None:
        query_schema = e.query.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(query_schema.pop("$defs", {}))
        required = set(query_schema.get("required", []))
        for name, prop in query_schema["properties"].items():
            op["parameters"].append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    for model, content in ((e.body, "application/json"), (e.form, "multipart/form-data")):
        if model is not None:
            schema = {"$ref": f"#/components/schemas/{model.__name__}"}
            op["requestBody"] = {"required": True, "content": {content: {"schema": schema}}}
    if e.roles is not None:
        op["security"] = [{"bearer": []}, {"session": []}]
    return op


def _responses(e: Endpoint, schemas: dict[str, Any]) -> dict[str, Any]:
    error = {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    responses: dict[str, Any] = {}
    if e.response is None:
        responses[str(e.status)] = {"description": "done"}
    else:
        schema = TypeAdapter(e.response).json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        schemas.update(schema.pop("$defs", {}))
        responses[str(e.status)] = {
            "description": "success",
            "content": {"application/json": {"schema": schema}},
        }
    codes = ["400", "422"] + (["401", "403"] if e.roles is not None else [])
    codes += ["404"] if e.path_params else []
    codes += ["409"] if e.method in {"POST", "PATCH", "PUT", "DELETE"} else []
    codes += ["413"] if e.form is not None else []
    return responses | dict.fromkeys(codes, error)
