"""Sign-in, sessions, bearer tokens, roles and the user directory, over real HTTP."""

import asyncio
import re
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import pytest

from core import auth, tokens
from core.errors import Conflict, Unauthenticated, ValidationFailed
from core.models import ApiToken, Event, Role, TokenKind, User
from core.settings import Settings
from tests.asserts import assert_error
from tests.conftest import PASSWORD, SECRET_KEY, Api, Backend, make_user
from web.api import ADMINS
from web.middleware import CSRF_HEADER, SESSION_COOKIE, csrf_for, csrf_key
from web.routes import api as route_table

ME = "/api/v1/me"
LOGIN = "/api/v1/auth/login"
LOGOUT = "/api/v1/auth/logout"
USER_KEYS = {"id", "email", "name", "role", "is_active"}


def concrete(path: str) -> str:
    """A route path with every ``{id}`` placeholder filled in."""
    return re.sub(r"{\w+}", "1", path)


PROTECTED = sorted(
    {(e.method, concrete(e.path)) for e in route_table.endpoints if e.roles is not None}
)
ADMIN_ONLY = sorted(
    {(e.method, concrete(e.path)) for e in route_table.endpoints if e.roles == ADMINS}
)
#: Public routes of the user-facing API (webhooks check their own signatures instead).
PUBLIC = [("GET", "/healthz"), ("GET", "/api/v1/openapi.json"), ("POST", LOGIN)]


async def login(anon: Api, email: str, password: str = PASSWORD):
    """POST the login form; returns (status, body, the parsed Set-Cookie morsel or None)."""
    async with anon.client.post(LOGIN, json={"email": email, "password": password}) as response:
        body = await response.json()
        raw = response.headers.getall("Set-Cookie", [])
    jar = SimpleCookie()
    for header in raw:
        jar.load(header)
    return response.status, body, jar.get(SESSION_COOKIE), raw


def forget_cookies(anon: Api) -> None:
    anon.client.session.cookie_jar.clear()


def csrf_header(session: str) -> dict[str, str]:
    """What a page sends with its state changes: the token derived from the session."""
    return {CSRF_HEADER: csrf_for(csrf_key(SECRET_KEY.get_secret_value()), session)}


def with_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}", **csrf_header(token)}


# --- login, the session cookie and logout --------------------------------------------


async def test_login_sets_httponly_strict_session_cookie(anon: Api, admin: User) -> None:
    status, body, morsel, raw = await login(anon, "admin@example.com")
    assert status == 200
    assert body["user"] == {
        "id": admin.id,
        "email": "admin@example.com",
        "name": "",
        "role": "admin",
        "is_active": True,
    }
    assert morsel is not None, raw
    assert set(body) == {"user"}, "the session token stays out of reach of page scripts"
    status, me = await anon.get("/api/v1/me", headers=with_cookie(morsel.value))
    assert (status, me["id"]) == (200, admin.id)
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert int(morsel["max-age"]) == 14 * 86400
    # plain HTTP on loopback: the cookie cannot be marked Secure or it would never come back
    assert not morsel["secure"]


async def test_login_session_is_a_stored_expiring_session_token(anon: Api, admin: User) -> None:
    _, _, cookie, _ = await login(anon, "admin@example.com")
    tokens = await ApiToken.filter(user_id=admin.id)
    assert len(tokens) == 1
    assert tokens[0].kind == TokenKind.SESSION
    assert tokens[0].expires_at is not None
    assert timedelta(days=13) < tokens[0].expires_at - tokens[0].created_at <= timedelta(days=14)
    assert cookie.value.startswith(f"fbx_{tokens[0].id}_")


async def test_session_cookie_authenticates_me(anon: Api, admin: User) -> None:
    _, _, morsel, _ = await login(anon, "admin@example.com")
    # the client's cookie jar sends it back like a browser would
    status, me = await anon.get(ME)
    assert status == 200
    assert me["id"] == admin.id
    assert me["email"] == "admin@example.com"
    # and the same value sent by hand works too
    forget_cookies(anon)
    assert (await anon.get(ME))[0] == 401
    status, me = await anon.get(ME, headers=with_cookie(morsel.value))
    assert (status, me["id"]) == (200, admin.id)


async def test_login_token_also_works_as_bearer(anon: Api, operator: User) -> None:
    _, _, cookie, _ = await login(anon, "operator@example.com")
    forget_cookies(anon)
    status, me = await anon.as_token(cookie.value).get(ME)
    assert (status, me["role"]) == (200, "operator")


async def test_login_email_is_case_and_space_insensitive(anon: Api, admin: User) -> None:
    status, body, morsel, _ = await login(anon, "  ADMIN@Example.COM ")
    assert status == 200
    assert body["user"]["id"] == admin.id
    assert morsel is not None


async def test_login_email_is_unicode_normalised_like_at_sign_up(anon: Api, db) -> None:
    composed = "jos\u00e9@example.com"
    decomposed = "jose\u0301@example.com"
    user = await auth.create_user(
        actor=None, email=decomposed.upper(), role=Role.ADMIN, password=PASSWORD
    )
    assert user.email == composed
    for typed in (composed, decomposed, f" {decomposed.upper()} "):
        status, body, _, _ = await login(anon, typed)
        assert (status, body["user"]["id"]) == (200, user.id), typed


async def test_login_with_unusable_email_is_a_plain_401(anon: Api, admin: User) -> None:
    for typed in ("not an email", "admin@localhost", "a@b"):
        status, body, morsel, _ = await login(anon, typed)
        assert status == 401, typed
        assert body["error"]["message"] == "wrong e-mail or password"
        assert morsel is None


async def test_wrong_password_and_unknown_email_look_the_same(anon: Api, admin: User) -> None:
    wrong_status, wrong, wrong_cookie, _ = await login(anon, "admin@example.com", "not the one")
    unknown_status, unknown, unknown_cookie, _ = await login(anon, "nobody@example.com")
    assert wrong_status == unknown_status == 401
    assert_error(wrong_status, wrong, 401, "unauthenticated")
    assert wrong == unknown
    assert wrong["error"]["message"] == "wrong e-mail or password"
    assert wrong_cookie is None
    assert unknown_cookie is None
    assert await ApiToken.all().count() == 0


async def test_deactivated_user_cannot_log_in(anon: Api, admin: User) -> None:
    admin.is_active = False
    await admin.save()
    status, body, morsel, _ = await login(anon, "admin@example.com")
    assert status == 401
    assert body["error"]["message"] == "wrong e-mail or password"
    assert morsel is None


async def test_login_validates_its_body(anon: Api, admin: User) -> None:
    status, body = await anon.post(LOGIN, json={"email": "admin@example.com"})
    assert_error(status, body, 422, "validation_failed", "password")
    status, body = await anon.post(LOGIN, json={"email": "a@b.c", "password": "x", "remember": 1})
    assert_error(status, body, 422, "validation_failed", "remember")
    status, body = await anon.post(LOGIN, data="{not json", headers={"Content-Type": "text/plain"})
    assert_error(status, body, 400, "malformed_json", "body")


async def test_logout_revokes_the_session(anon: Api, admin: User) -> None:
    _, body, morsel, _ = await login(anon, "admin@example.com")
    old = morsel.value
    assert (await anon.get(ME))[0] == 200

    async with anon.client.post(LOGOUT, headers=csrf_header(old)) as response:
        assert response.status == 204
        cleared = SimpleCookie()
        for header in response.headers.getall("Set-Cookie", []):
            cleared.load(header)
    assert cleared[SESSION_COOKIE].value == ""
    assert await ApiToken.filter(user_id=admin.id).count() == 0

    forget_cookies(anon)
    status, body = await anon.get(ME, headers=with_cookie(old))
    assert_error(status, body, 401, "unauthenticated")
    # the same secret as a bearer token is dead too
    status, body = await anon.as_token(old).get(ME)
    assert status == 401


async def test_logout_only_revokes_its_own_session(anon: Api, admin: User) -> None:
    _, _, first, _ = await login(anon, "admin@example.com")
    forget_cookies(anon)
    _, _, second, _ = await login(anon, "admin@example.com")
    forget_cookies(anon)
    api_token = await tokens.issue_token(user=admin)

    status, _ = await anon.post(LOGOUT, headers=with_cookie(first.value))
    assert status == 204
    assert (await anon.get(ME, headers=with_cookie(first.value)))[0] == 401
    assert (await anon.get(ME, headers=with_cookie(second.value)))[0] == 200
    assert (await anon.as_token(api_token).get(ME))[0] == 200


async def test_logout_with_the_login_token_as_bearer_revokes_it(anon: Api, admin: User) -> None:
    _, _, cookie, _ = await login(anon, "admin@example.com")
    forget_cookies(anon)
    client = anon.as_token(cookie.value)
    assert (await client.get(ME))[0] == 200
    status, _ = await client.post(LOGOUT)
    assert status == 204
    status, error = await client.get(ME)
    assert_error(status, error, 401, "unauthenticated")
    assert await ApiToken.filter(user_id=admin.id).count() == 0


async def test_logout_with_an_api_token_keeps_the_api_token(anon: Api, admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    client = anon.as_token(token)
    status, _ = await client.post(LOGOUT)
    assert status == 204
    assert (await client.get(ME))[0] == 200


async def test_logout_needs_a_signed_in_user(anon: Api, db) -> None:
    status, body = await anon.post(LOGOUT)
    assert_error(status, body, 401, "unauthenticated")


async def test_bad_session_cookie_is_ignored_on_public_routes(anon: Api, db) -> None:
    status, body = await anon.get("/healthz", headers=with_cookie("fbx_1_forged"))
    assert status == 200
    status, body = await anon.get(ME, headers=with_cookie("fbx_1_forged"))
    assert_error(status, body, 401, "unauthenticated")


async def test_expired_session_is_rejected(anon: Api, admin: User) -> None:
    token = await tokens.issue_token(
        user=admin, kind=TokenKind.SESSION, lifetime=timedelta(seconds=-1)
    )
    assert (await anon.get(ME, headers=with_cookie(token)))[0] == 401
    status, body = await anon.as_token(token).get(ME)
    assert_error(status, body, 401, "unauthenticated")
    assert "expired" in body["error"]["message"]


async def test_set_password_revokes_sessions_but_keeps_api_tokens(anon: Api, admin: User) -> None:
    _, _, cookie, _ = await login(anon, "admin@example.com")
    forget_cookies(anon)
    session = cookie.value
    api_token = await tokens.issue_token(user=admin)
    old_hash = (await User.get(id=admin.id)).password_hash

    await auth.set_password(actor=admin, user=admin, password="a brand new secret")

    assert (await anon.get(ME, headers=with_cookie(session)))[0] == 401
    assert (await anon.as_token(session).get(ME))[0] == 401
    assert (await anon.as_token(api_token).get(ME))[0] == 200
    stored = await User.get(id=admin.id)
    assert stored.password_hash != old_hash
    assert stored.password_hash.startswith("$argon2")
    assert (await login(anon, "admin@example.com"))[0] == 401
    status, _, morsel, _ = await login(anon, "admin@example.com", "a brand new secret")
    assert (status, morsel is not None) == (200, True)
    event = await Event.get(kind="user.password_changed")
    assert event.data == {"user_id": admin.id}
    assert event.actor_id == admin.id  # type: ignore[attr-defined]


async def test_set_password_rejects_short_passwords(admin: User) -> None:
    before = (await User.get(id=admin.id)).password_hash
    token = await tokens.issue_token(user=admin, kind=TokenKind.SESSION)
    with pytest.raises(ValidationFailed) as caught:
        await auth.set_password(actor=admin, user=admin, password="short")
    assert caught.value.field == "password"
    assert (await User.get(id=admin.id)).password_hash == before
    assert (await tokens.resolve_token(token)).id == admin.id


# --- bearer tokens ---------------------------------------------------------------------


async def test_api_token_authenticates(api: Api, admin: User) -> None:
    status, me = await api.get(ME)
    assert status == 200
    assert me == {
        "id": admin.id,
        "email": admin.email,
        "name": "",
        "role": "admin",
        "is_active": True,
    }


async def test_missing_credentials_give_401(anon: Api, admin: User) -> None:
    status, body = await anon.get(ME)
    assert_error(status, body, 401, "unauthenticated")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer xyz",
        "Bearer ",
        "Bearer",
        "Bearer fbx_1",
        "Bearer fbx_1_",
        "Bearer fbx__secret",
        "Bearer fbx_abc_secret",
        "Bearer xyz_1_secret",
        "Bearer fbx_-1_secret",
        "Bearer fbx_99999999_secret",
        "Bearer fbx_2147483648_secret",
        "Bearer fbx_99999999999999999999999999_secret",
        "Bearer fbx_²_secret",
        "Bearer fbx_１_secret",
        "Basic YWRtaW5AZXhhbXBsZS5jb206cGFzc3dvcmQ=",
        "Token abc",
        "bearerfbx_1_x",
    ],
)
async def test_malformed_or_unknown_authorization_gives_401(
    anon: Api, admin: User, header: str
) -> None:
    status, body = await anon.get(ME, headers={"Authorization": header})
    assert_error(status, body, 401, "unauthenticated")


async def test_basic_auth_names_the_header(anon: Api, admin: User) -> None:
    status, body = await anon.get(ME, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert_error(status, body, 401, "unauthenticated", "Authorization")
    assert "Bearer" in body["error"]["message"]


async def test_bearer_scheme_is_case_insensitive(anon: Api, admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    status, me = await anon.get(ME, headers={"Authorization": f"bearer {token}"})
    assert (status, me["id"]) == (200, admin.id)


async def test_token_with_wrong_secret_gives_401(anon: Api, admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    prefix, token_id, secret = token.split("_", 2)
    forged = f"{prefix}_{token_id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}"
    assert (await anon.as_token(forged).get(ME))[0] == 401
    # another token's secret does not open this token's id
    other = await tokens.issue_token(user=admin)
    swapped = f"{prefix}_{token_id}_{other.split('_', 2)[2]}"
    assert (await anon.as_token(swapped).get(ME))[0] == 401
    assert (await anon.as_token(token).get(ME))[0] == 200


async def test_revoked_token_gives_401(anon: Api, admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    assert (await anon.as_token(token).get(ME))[0] == 200
    await tokens.revoke(actor=None, token_id=int(token.split("_")[1]))
    status, body = await anon.as_token(token).get(ME)
    assert_error(status, body, 401, "unauthenticated")


async def test_token_of_deleted_user_gives_401(anon: Api, db) -> None:
    user = await make_user(Role.ADMIN, "gone@example.com")
    token = await tokens.issue_token(user=user)
    assert (await anon.as_token(token).get(ME))[0] == 200
    await user.delete()
    assert await ApiToken.all().count() == 0
    status, body = await anon.as_token(token).get(ME)
    assert_error(status, body, 401, "unauthenticated")


async def test_token_of_deactivated_user_gives_401(anon: Api, admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    admin.is_active = False
    await admin.save()
    status, body = await anon.as_token(token).get(ME)
    assert status == 401
    assert "deactivated" in body["error"]["message"]


async def test_bad_bearer_is_an_error_even_on_public_routes(anon: Api, db) -> None:
    status, body = await anon.get("/healthz", headers={"Authorization": "Bearer nope"})
    assert_error(status, body, 401, "unauthenticated")
    status, _ = await anon.get("/healthz")
    assert status == 200


async def test_bearer_wins_over_cookie(anon: Api, admin: User, operator: User) -> None:
    cookie = await tokens.issue_token(user=admin, kind=TokenKind.SESSION)
    token = await tokens.issue_token(user=operator)
    status, me = await anon.as_token(token).get(ME, headers=with_cookie(cookie))
    assert (status, me["id"]) == (200, operator.id)
    # a bad bearer is not rescued by a good cookie
    status, _ = await anon.as_token("fbx_1_bad").get(ME, headers=with_cookie(cookie))
    assert status == 401


async def test_tokens_are_stored_as_digests(admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    prefix, token_id, secret = token.split("_", 2)
    assert prefix == "fbx"
    stored = await ApiToken.get(id=int(token_id))
    assert stored.kind == TokenKind.API
    assert stored.expires_at is None
    assert stored.secret_hash != secret
    assert secret not in stored.secret_hash
    assert re.fullmatch(r"[0-9a-f]{64}", stored.secret_hash)
    # two tokens never share a secret
    again = await tokens.issue_token(user=admin)
    assert again.split("_", 2)[2] != secret


async def test_resolve_token_rejects_garbage_without_crashing(admin: User) -> None:
    for raw in ["", "_", "fbx", "fbx_", "fbx_1", "fbx_0_x", "fbx_²_x", "fbx_" + "9" * 40 + "_x"]:
        with pytest.raises(Unauthenticated):
            await tokens.resolve_token(raw)
    # revoking something unknown is a quiet no-op
    await tokens.revoke_token("fbx_" + "9" * 40 + "_x", kind=TokenKind.SESSION)
    await tokens.revoke_token("garbage", kind=TokenKind.SESSION)


# --- roles ----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), PROTECTED)
async def test_anonymous_gets_401_on_every_protected_route(
    anon: Api, admin: User, method: str, path: str
) -> None:
    status, body = await anon.call(method, path, json={})
    assert_error(status, body, 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path"), PUBLIC)
async def test_public_routes_need_no_credentials(anon: Api, db, method: str, path: str) -> None:
    [endpoint] = [e for e in route_table.endpoints if (e.method, e.path) == (method, path)]
    assert endpoint.roles is None
    status, body = await anon.call(method, path, json={})
    assert status not in (401, 403), (method, path, body)


@pytest.mark.parametrize(("method", "path"), ADMIN_ONLY)
async def test_operator_gets_403_on_admin_routes(
    anon: Api, operator: User, method: str, path: str
) -> None:
    client = await anon.as_user(operator)
    status, body = await client.call(method, path, json={})
    assert_error(status, body, 403, "forbidden")
    assert "operator" in body["error"]["message"]


async def test_operator_denied_before_anything_changes(anon: Api, operator: User) -> None:
    client = await anon.as_user(operator)
    status, body = await client.post("/api/v1/pipelines", json={"name": "Sneaky"})
    assert_error(status, body, 403, "forbidden")
    status, body = await client.post("/api/v1/tags", json={"name": "Sneaky"})
    assert status == 403
    # forbidden beats malformed: the role is checked before the body is read
    status, body = await client.post(
        "/api/v1/tags", data="{oops", headers={"Content-Type": "application/json"}
    )
    assert status == 403
    admin_view = await make_user(Role.ADMIN)
    status, pipelines = await anon.as_token(await tokens.issue_token(user=admin_view)).get(
        "/api/v1/pipelines"
    )
    assert (status, pipelines) == (200, [])


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
async def test_owner_and_admin_use_admin_routes(anon: Api, db, role: Role) -> None:
    client = await anon.as_user(await make_user(role))
    status, page = await client.get("/api/v1/deals")
    assert (status, page) == (200, {"items": [], "next_cursor": None})
    status, tags = await client.get("/api/v1/tags")
    assert (status, tags) == (200, [])
    status, pipeline = await client.post("/api/v1/pipelines", json={"name": "Sales"})
    assert status == 201
    assert pipeline["name"] == "Sales"
    assert [s["kind"] for s in pipeline["stages"]] == ["open", "won", "lost"]
    status, users = await client.get("/api/v1/users")
    assert status == 200
    assert [u["role"] for u in users] == [role.value]


async def test_operator_uses_contacts(anon: Api, operator: User) -> None:
    client = await anon.as_user(operator)
    status, created = await client.post(
        "/api/v1/contacts", json={"name": "Ann", "phone": "+1 415 555 2671"}
    )
    assert status == 201
    assert created["phone"] == "+14155552671"
    status, listed = await client.get("/api/v1/contacts")
    assert (status, [c["id"] for c in listed]) == (200, [created["id"]])
    status, got = await client.get(f"/api/v1/contacts/{created['id']}")
    assert (status, got) == (200, created)
    status, edited = await client.patch(f"/api/v1/contacts/{created['id']}", json={"name": "Anna"})
    assert (status, edited["name"]) == (200, "Anna")
    status, me = await client.get(ME)
    assert (status, me["role"]) == (200, "operator")


# --- users ----------------------------------------------------------------------------


async def test_passwords_are_argon2_hashes(admin: User) -> None:
    stored = await User.get(id=admin.id)
    assert stored.password_hash.startswith("$argon2")
    assert PASSWORD not in stored.password_hash
    other = await make_user(Role.OPERATOR, "same@example.com")
    # salted: the same password never hashes the same twice
    assert (await User.get(id=other.id)).password_hash != stored.password_hash


async def test_api_never_returns_password_hashes(api: Api, admin: User, anon: Api) -> None:
    status, created = await api.post(
        "/api/v1/users",
        json={"email": "new@example.com", "role": "operator", "password": "long enough"},
    )
    assert status == 201
    _, me = await api.get(ME)
    _, users = await api.get("/api/v1/users")
    _, login_body, _, _ = await login(anon, "admin@example.com")
    for user in [created, me, *users, login_body["user"]]:
        assert set(user) == USER_KEYS
    everything = repr([created, me, users, login_body])
    assert "argon2" not in everything
    assert "long enough" not in everything
    assert PASSWORD not in everything


async def test_admin_creates_users(api: Api, admin: User) -> None:
    status, created = await api.post(
        "/api/v1/users",
        json={
            "email": " New.Person@Example.COM ",
            "name": "New Person",
            "role": "operator",
            "password": "long enough",
        },
    )
    assert status == 201
    assert created["email"] == "new.person@example.com"
    assert created["name"] == "New Person"
    assert created["role"] == "operator"
    assert created["is_active"] is True
    stored = await User.get(id=created["id"])
    assert stored.password_hash.startswith("$argon2")
    event = await Event.filter(kind="user.created").order_by("-id").first()
    assert event is not None
    assert event.actor_id == admin.id  # type: ignore[attr-defined]
    assert event.data == {
        "user_id": created["id"],
        "email": "new.person@example.com",
        "role": "operator",
    }
    # and the new user can sign in
    client = api.as_token(None)
    status, body, morsel, _ = await login(client, "new.person@example.com", "long enough")
    assert (status, body["user"]["id"], morsel is not None) == (200, created["id"], True)


async def test_admin_cannot_create_owner(api: Api, admin: User) -> None:
    status, body = await api.post(
        "/api/v1/users",
        json={"email": "boss@example.com", "role": "owner", "password": "long enough"},
    )
    assert_error(status, body, 403, "forbidden", "role")
    assert not await User.filter(email="boss@example.com").exists()
    # only the fixture's own user.created event, none for the refused owner
    assert await Event.filter(kind="user.created").count() == 1


async def test_owner_can_create_owner(anon: Api, owner: User) -> None:
    client = await anon.as_user(owner)
    status, created = await client.post(
        "/api/v1/users",
        json={"email": "boss@example.com", "role": "owner", "password": "long enough"},
    )
    assert status == 201
    assert created["role"] == "owner"
    assert (await User.get(id=created["id"])).role == Role.OWNER


async def test_operator_cannot_create_users(anon: Api, operator: User) -> None:
    client = await anon.as_user(operator)
    status, body = await client.post(
        "/api/v1/users",
        json={"email": "x@example.com", "role": "operator", "password": "long enough"},
    )
    assert_error(status, body, 403, "forbidden")
    assert not await User.filter(email="x@example.com").exists()


@pytest.mark.parametrize("email", ["admin@example.com", "ADMIN@example.com", " Admin@Example.Com "])
async def test_duplicate_email_gives_409(api: Api, admin: User, email: str) -> None:
    status, body = await api.post(
        "/api/v1/users", json={"email": email, "role": "operator", "password": "long enough"}
    )
    assert_error(status, body, 409, "conflict", "email")
    assert await User.all().count() == 1


async def test_concurrent_creates_of_one_email_make_one_user(api: Api, admin: User) -> None:
    """The unique index decides a race the check cannot see; the losers get the same 409."""
    new = {"email": "new@example.com", "role": "operator", "password": "long enough"}
    answers = await asyncio.gather(*(api.post("/api/v1/users", json=new) for _ in range(6)))
    assert sorted(status for status, _ in answers) == [201] + [409] * 5, answers
    for status, body in answers:
        if status == 409:
            assert_error(status, body, 409, "conflict", "email")
    assert await User.filter(email="new@example.com").count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"email": "a@example.com", "role": "operator", "password": "short"}, "password"),
        ({"email": "a@example.com", "role": "operator", "password": "1234567"}, "password"),
        ({"email": "a@example.com", "role": "operator"}, "password"),
        ({"email": "not-an-email", "role": "operator", "password": "long enough"}, "email"),
        ({"email": "a@b", "role": "operator", "password": "long enough"}, "email"),
        ({"role": "operator", "password": "long enough"}, "email"),
        ({"email": "a@example.com", "role": "king", "password": "long enough"}, "role"),
        ({"email": "a@example.com", "password": "long enough"}, "role"),
        (
            {"email": "a@example.com", "role": "admin", "password": "long enough", "x": 1},
            "x",
        ),
    ],
)
async def test_create_user_validation(api: Api, admin: User, payload: dict, field: str) -> None:
    status, body = await api.post("/api/v1/users", json=payload)
    assert_error(status, body, 422, "validation_failed", field)
    assert await User.all().count() == 1


async def test_create_user_service_checks_password_length(db) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await auth.create_user(actor=None, email="a@example.com", role=Role.ADMIN, password="x" * 7)
    assert caught.value.field == "password"
    assert not await User.exists()
    user = await auth.create_user(
        actor=None, email="a@example.com", role=Role.OWNER, password="x" * 8
    )
    assert user.role == Role.OWNER


async def test_list_users_oldest_first(api: Api, admin: User, owner: User, operator: User) -> None:
    status, users = await api.get("/api/v1/users")
    assert status == 200
    assert [u["email"] for u in users] == [
        "admin@example.com",
        "owner@example.com",
        "operator@example.com",
    ]


# --- named API tokens: create, list, revoke ---------------------------------------------

TOKENS = "/api/v1/tokens"
TOKEN_KEYS = {"id", "user_id", "name", "created_at", "expires_at", "last_used_at"}


async def test_a_user_creates_lists_and_revokes_their_own_tokens(anon: Api, operator: User) -> None:
    client = await anon.as_user(operator)
    status, made = await client.post(TOKENS, json={"name": " deploy script ", "expires_days": 30})
    assert status == 201
    assert set(made) == {*TOKEN_KEYS, "token"}
    assert (made["user_id"], made["name"], made["last_used_at"]) == (
        operator.id,
        "deploy script",
        None,
    )
    assert made["token"].startswith(f"fbx_{made['id']}_")
    created, expires = (datetime.fromisoformat(made[k]) for k in ("created_at", "expires_at"))
    assert timedelta(days=29, hours=23) < expires - created <= timedelta(days=30)

    fresh = anon.as_token(made["token"])
    status, listed = await fresh.get(TOKENS)
    assert status == 200
    # the token the fixture signed in with is unnamed; the secret is never listed
    assert [t["name"] for t in listed] == ["", "deploy script"]
    assert all(set(t) == TOKEN_KEYS for t in listed)
    assert made["token"].split("_", 2)[2] not in repr(listed)

    status, _ = await client.delete(f"{TOKENS}/{made['id']}")
    assert status == 204
    status, body = await fresh.get(ME)
    assert_error(status, body, 401, "unauthenticated")
    assert [t["name"] for t in (await client.get(TOKENS))[1]] == [""]
    kinds = [
        (e.kind, e.data["token_id"], e.actor_id)
        for e in await Event.filter(kind__startswith="token.")
    ]  # type: ignore[attr-defined]
    assert kinds[-2:] == [
        ("token.issued", made["id"], operator.id),
        ("token.revoked", made["id"], operator.id),
    ]


async def test_tokens_of_others_are_an_owners_business(anon: Api, owner: User, admin: User) -> None:
    admins_token = await tokens.issue_token(user=admin)
    admins_id = int(admins_token.split("_")[1])
    operator = await make_user(Role.OPERATOR)
    nosy = await anon.as_user(operator)
    status, body = await nosy.get(TOKENS, params={"user_id": admin.id})
    assert_error(status, body, 403, "forbidden", "user_id")
    assert [t["user_id"] for t in (await nosy.get(TOKENS))[1]] == [operator.id]
    status, body = await nosy.delete(f"{TOKENS}/{admins_id}")
    assert_error(status, body, 404, "not_found", "token_id")
    # an admin is not an owner either
    status, body = await anon.as_token(admins_token).get(TOKENS, params={"user_id": owner.id})
    assert status == 403
    assert (await anon.as_token(admins_token).get(ME))[0] == 200

    boss = await anon.as_user(owner)
    status, everyone = await boss.get(TOKENS)
    assert (status, sorted(t["user_id"] for t in everyone)) == (
        200,
        sorted([admin.id, operator.id, owner.id]),
    )
    status, theirs = await boss.get(TOKENS, params={"user_id": admin.id})
    assert [t["id"] for t in theirs][:1] == [admins_id]
    assert (await boss.delete(f"{TOKENS}/{admins_id}"))[0] == 204
    assert (await anon.as_token(admins_token).get(ME))[0] == 401
    event = await Event.get(kind="token.revoked")
    assert (event.data, event.actor_id) == ({"token_id": admins_id, "user_id": admin.id}, owner.id)  # type: ignore[attr-defined]


async def test_sessions_are_neither_listed_nor_revoked_by_id(anon: Api, admin: User) -> None:
    _, _, cookie, _ = await login(anon, "admin@example.com")
    forget_cookies(anon)
    session_id = int(cookie.value.split("_")[1])
    client = anon.as_token(cookie.value)
    assert (await client.get(TOKENS))[1] == []
    status, body = await client.delete(f"{TOKENS}/{session_id}")
    assert_error(status, body, 404, "not_found", "token_id")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ci", "expires_days": 0}, "expires_days"),
        ({"name": "ci", "expires_days": 3651}, "expires_days"),
        ({"name": "ci", "secret": "mine"}, "secret"),
    ],
)
async def test_create_token_validation(api: Api, admin: User, payload: dict, field: str) -> None:
    status, body = await api.post(TOKENS, json=payload)
    assert_error(status, body, 422, "validation_failed", field)
    assert await ApiToken.all().count() == 1


async def test_an_expiring_token_stops_at_its_expiry(anon: Api, admin: User) -> None:
    client = await anon.as_user(admin)
    _, made = await client.post(TOKENS, json={"name": "a week", "expires_days": 7})
    assert (await anon.as_token(made["token"]).get(ME))[0] == 200
    await ApiToken.filter(id=made["id"]).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    status, body = await anon.as_token(made["token"]).get(ME)
    assert_error(status, body, 401, "unauthenticated")
    assert "expired" in body["error"]["message"]


async def test_last_used_is_written_at_most_once_a_minute(anon: Api, admin: User) -> None:
    token = await tokens.issue_token(user=admin)
    token_id = int(token.split("_")[1])
    assert (await ApiToken.get(id=token_id)).last_used_at is None
    before = datetime.now(UTC)
    assert (await anon.as_token(token).get(ME))[0] == 200
    first = (await ApiToken.get(id=token_id)).last_used_at
    assert first is not None and before - timedelta(seconds=1) <= first <= datetime.now(UTC)
    for _ in range(3):
        assert (await anon.as_token(token).get(ME))[0] == 200
    assert (await ApiToken.get(id=token_id)).last_used_at == first
    # 61 seconds later the next request notes the use again
    await ApiToken.filter(id=token_id).update(last_used_at=first - timedelta(seconds=61))
    assert (await anon.as_token(token).get(ME))[0] == 200
    assert (await ApiToken.get(id=token_id)).last_used_at >= first
    _, listed = await anon.as_token(token).get(TOKENS)
    assert datetime.fromisoformat(listed[0]["last_used_at"]) >= first


async def test_set_password_can_revoke_the_api_tokens_too(anon: Api, admin: User) -> None:
    kept = await tokens.issue_token(user=admin)
    assert await auth.set_password(actor=admin, user=admin, password="a brand new secret") == 0
    assert (await anon.as_token(kept).get(ME))[0] == 200
    revoked = await auth.set_password(
        actor=None, user=admin, password="another new secret", revoke_tokens=True
    )
    assert revoked == 1
    status, body = await anon.as_token(kept).get(ME)
    assert_error(status, body, 401, "unauthenticated")
    event = await Event.filter(kind="user.password_changed").order_by("-id").first()
    assert event is not None and event.data == {"user_id": admin.id, "api_tokens_revoked": 1}


# --- deactivation ------------------------------------------------------------------------


async def test_owner_deactivates_a_user_and_every_credential_stops(
    anon: Api, owner: User, admin: User
) -> None:
    _, _, cookie, _ = await login(anon, "admin@example.com")
    forget_cookies(anon)
    api_token = await tokens.issue_token(user=admin)
    boss = await anon.as_user(owner)

    status, body = await boss.post(f"/api/v1/users/{admin.id}/deactivate")
    assert (status, body["id"], body["is_active"]) == (200, admin.id, False)
    for client in (anon.as_token(api_token), anon.as_token(cookie.value)):
        status, error = await client.get(ME)
        assert_error(status, error, 401, "unauthenticated")
    assert (await anon.get(ME, headers=with_cookie(cookie.value)))[0] == 401
    assert await ApiToken.filter(user_id=admin.id).count() == 0
    assert (await login(anon, "admin@example.com"))[0] == 401
    event = await Event.get(kind="user.deactivated")
    assert event.actor_id == owner.id  # type: ignore[attr-defined]
    assert event.data == {
        "user_id": admin.id,
        "tokens_revoked": 2,
        "changes": {"is_active": {"from": True, "to": False}},
    }
    # again is a no-op, not a second event
    assert (await boss.post(f"/api/v1/users/{admin.id}/deactivate"))[0] == 200
    assert await Event.filter(kind="user.deactivated").count() == 1

    status, body = await boss.post(f"/api/v1/users/{admin.id}/reactivate")
    assert (status, body["is_active"]) == (200, True)
    assert (await login(anon, "admin@example.com"))[0] == 200
    forget_cookies(anon)
    assert (await anon.as_token(api_token).get(ME))[0] == 401, "revoked tokens stay revoked"
    assert await Event.filter(kind="user.reactivated").count() == 1


async def test_only_owners_deactivate(anon: Api, owner: User, admin: User) -> None:
    operator = await make_user(Role.OPERATOR)
    client = await anon.as_user(admin)
    for action in ("deactivate", "reactivate"):
        status, body = await client.post(f"/api/v1/users/{operator.id}/{action}")
        assert_error(status, body, 403, "forbidden")
    assert (await User.get(id=operator.id)).is_active
    status, body = await (await anon.as_user(owner)).post("/api/v1/users/999/deactivate")
    assert_error(status, body, 404, "not_found", "user_id")


async def test_the_last_active_owner_cannot_be_deactivated(anon: Api, owner: User) -> None:
    boss = await anon.as_user(owner)
    status, body = await boss.post(f"/api/v1/users/{owner.id}/deactivate")
    assert_error(status, body, 409, "conflict", "user_id")
    assert "last active owner" in body["error"]["message"]
    second = await make_user(Role.OWNER, "second@example.com")
    status, body = await boss.post(f"/api/v1/users/{second.id}/deactivate")
    assert (status, body["is_active"]) == (200, False)
    # a deactivated owner does not count: the first one is the last active owner again
    status, body = await boss.post(f"/api/v1/users/{owner.id}/deactivate")
    assert_error(status, body, 409, "conflict", "user_id")
    await boss.post(f"/api/v1/users/{second.id}/reactivate")
    status, body = await boss.post(f"/api/v1/users/{owner.id}/deactivate")
    assert (status, body["is_active"]) == (200, False), "with another active owner one may leave"
    assert (await boss.get(ME))[0] == 401
    with pytest.raises(Conflict):
        await auth.deactivate_user(actor=None, user_id=second.id)


# --- display names -----------------------------------------------------------------------


async def test_users_set_their_own_display_name(anon: Api, operator: User) -> None:
    client = await anon.as_user(operator)
    status, me = await client.patch("/api/v1/users/me", json={"name": "  Ann Lee "})
    assert (status, me["id"], me["name"]) == (200, operator.id, "Ann Lee")
    assert (await client.get(ME))[1]["name"] == "Ann Lee"
    admins_view = await (await anon.as_user(await make_user(Role.ADMIN))).get("/api/v1/users")
    assert [u["name"] for u in admins_view[1]] == ["Ann Lee", ""]
    assert (await login(anon, "operator@example.com"))[1]["user"]["name"] == "Ann Lee"
    event = await Event.get(kind="user.updated")
    assert event.data == {
        "user_id": operator.id,
        "changes": {"name": {"from": "", "to": "Ann Lee"}},
    }
    for bad in ({"name": " "}, {"name": "x" * 201}, {}, {"name": "Ann", "role": "owner"}):
        status, _ = await client.patch("/api/v1/users/me", json=bad)
        assert status == 422, bad
    assert (await User.get(id=operator.id)).role == Role.OPERATOR


async def test_owners_and_admins_rename_others(anon: Api, owner: User, admin: User) -> None:
    operator = await make_user(Role.OPERATOR)
    client = await anon.as_user(admin)
    status, body = await client.patch(f"/api/v1/users/{operator.id}", json={"name": "Bo Chen"})
    assert (status, body["name"]) == (200, "Bo Chen")
    status, body = await client.patch(f"/api/v1/users/{owner.id}", json={"name": "Boss"})
    assert_error(status, body, 403, "forbidden")
    boss = await anon.as_user(owner)
    status, body = await boss.patch(f"/api/v1/users/{admin.id}", json={"name": "Cy Diaz"})
    assert (status, body["name"]) == (200, "Cy Diaz")
    status, body = await (await anon.as_user(operator)).patch(
        f"/api/v1/users/{admin.id}", json={"name": "Mallory"}
    )
    assert_error(status, body, 403, "forbidden")
    status, body = await boss.patch("/api/v1/users/999", json={"name": "Nobody"})
    assert_error(status, body, 404, "not_found", "user_id")
    assert {u.email: u.name for u in await User.all()} == {
        "owner@example.com": "",
        "admin@example.com": "Cy Diaz",
        "operator@example.com": "Bo Chen",
    }


async def test_create_user_keeps_a_trimmed_name(db) -> None:
    user = await auth.create_user(
        actor=None, email="ann@example.com", role=Role.ADMIN, password=PASSWORD, name=" Ann Lee "
    )
    assert (await User.get(id=user.id)).name == "Ann Lee"
    with pytest.raises(ValidationFailed) as caught:
        await make_named("x" * 201)
    assert caught.value.field == "name"


async def make_named(name: str) -> User:
    return await auth.create_user(
        actor=None, email="long@example.com", role=Role.ADMIN, password=PASSWORD, name=name
    )


# --- password hashing ------------------------------------------------------------------


async def test_the_default_profile_is_rfc_9106_low_memory_and_any_stored_hash_verifies(
    db: Backend,
) -> None:
    """A deployment hashes at RFC 9106's low-memory cost; a hash keeps the cost it was
    made with, so changing the profile never locks anyone out."""
    assert Settings.model_fields["password_profile"].default == "rfc_9106_low_memory"
    try:
        auth.use_password_profile("rfc_9106_low_memory")
        strong = await make_user(Role.ADMIN, "strong@example.com")
    finally:
        auth.use_password_profile("cheapest")
    assert strong.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    cheap = await make_user(Role.ADMIN, "cheap@example.com")
    assert cheap.password_hash.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    for email in ("strong@example.com", "cheap@example.com"):
        assert (await auth.authenticate(email=email, password=PASSWORD)).email == email
    with pytest.raises(Unauthenticated):
        await auth.authenticate(email="strong@example.com", password="not the password")
