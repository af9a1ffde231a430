"""Schemathesis fuzzes every operation of the committed OpenAPI document against a real
``funnelbox serve`` on loopback: whatever it sends, the answer is never a server error,
and every error is JSON with a code, a message and the offending field.

Part of the bodies it draws are poisoned on the way (:func:`flatmap_body`): wrapped in
JSON nested past the server's limit, or given a string with NUL or a lone surrogate
somewhere, keys included. Those must be refused (400 or 422, the error shape) with
nothing written: no event appears, and every state change writes one.

Examples are derandomized, so a run is repeatable; a failure prints the request.
"""

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from core.storable import MAX_DEPTH, UNSTORABLE
from tests.processes import ROOT, free_port, wait_healthy

SCHEMA = schemathesis.openapi.from_path(ROOT / "web" / "openapi.json").exclude(
    # they would end the fuzzer's own session or revoke its token
    path=["/api/v1/auth/logout", "/api/v1/tokens/{token_id}"]
)


#: What no database stores: NUL, and the halves of a surrogate pair on their own.
POISON = st.sampled_from(["\x00", "\ud800", "\udfff", "a\x00b", "x\udc00"])


def _nested(body: Any, depth: int) -> Any:
    for _ in range(depth):
        body = [body]
    return body


def _with_text(body: Any, text: str, as_key: bool) -> Any:
    """``body`` holding ``text`` as a key or value at its top, whatever its shape."""
    if isinstance(body, dict):
        if as_key or not body:
            return {**body, text: "x"}
        return {**body, next(iter(body)): text}
    if isinstance(body, list):
        return [*body, text]
    return text


def _plain_json(node: Any) -> bool:
    """Whether ``node`` is JSON as Python holds it (not the raw bytes of an example)."""
    if isinstance(node, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_plain_json(v) for v in node)
    return node is None or isinstance(node, str | int | float | bool)


@SCHEMA.hook
def flatmap_body(context: Any, body: Any) -> st.SearchStrategy:
    """The drawn body as it is, or poisoned: nested past the limit, or with bad text.
    Only JSON bodies: a multipart upload's text is checked by its own form parser."""
    json_only = all(b.media_type == "application/json" for b in context.operation.body)
    if not json_only or not _plain_json(body):
        return st.just(body)
    deep = st.integers(MAX_DEPTH + 1, 300).map(lambda depth: _nested(body, depth))
    bad_text = st.builds(_with_text, st.just(body), POISON, st.booleans())
    return st.one_of(st.just(body), deep, bad_text)


def _poisoned(node: Any, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(node, str):
        return bool(UNSTORABLE.search(node))
    if isinstance(node, dict):
        return any(_poisoned(k, depth + 1) or _poisoned(v, depth + 1) for k, v in node.items())
    if isinstance(node, list):
        return any(_poisoned(v, depth + 1) for v in node)
    return False


def _valid_ids(case: schemathesis.Case) -> bool:
    """Whether every path id is one the server reads (else a 404 comes before the body)."""
    ids = [str(value) for value in (case.path_parameters or {}).values()]
    return all(raw.isdigit() and len(raw) <= 18 for raw in ids)


def _last_event(database: Path) -> int:
    with sqlite3.connect(database, timeout=10) as conn:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM event").fetchone()[0]


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, str], Path]]:
    """A migrated SQLite database with one pipeline, contact and deal, served over HTTP."""
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.sqlite3"
    env = {
        **os.environ,
        "FUNNELBOX_DATABASE_URL": f"sqlite://{path}",
        "FUNNELBOX_SECRET_KEY": "fuzz-test-secret-key-1234",
        "FUNNELBOX_REDIS_URL": "",
        "FUNNELBOX_OUTBOX_WORKER": "false",
    }
    _cli(env, "migrate")
    _cli(env, "createuser", "owner@example.com", "--role", "owner", "--password", "x" * 12)
    headers = {
        "Authorization": f"Bearer {_cli(env, 'token', 'owner@example.com', '--name', 'fuzz')}"
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "web.cli", "serve", "--port", str(port)], env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        asyncio.run(wait_healthy(base, seconds=60))  # a busy 2-core machine starts slowly
        pipeline = requests.post(f"{base}/api/v1/pipelines", json={"name": "Sales"},
                                 headers=headers, timeout=5).json()  # fmt: skip
        contact = requests.post(f"{base}/api/v1/contacts", json={"name": "Ann"},
                                headers=headers, timeout=5).json()  # fmt: skip
        requests.post(
            f"{base}/api/v1/deals",
            json={"contact_ids": [contact["id"]], "pipeline_id": pipeline["id"]},
            headers=headers, timeout=5,
        ).raise_for_status()  # fmt: skip
        yield base, headers, path
    finally:
        process.kill()
        process.wait()


@SCHEMA.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors_and_errors_name_the_field(
    case: schemathesis.Case, server: tuple[str, dict[str, str], Path]
) -> None:
    base, headers, database = server
    poisoned = case.body is not None and _poisoned(case.body)
    before = _last_event(database) if poisoned else 0
    response = case.call(base_url=base, headers=headers, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if poisoned:
        refused = {400, 422} if _valid_ids(case) else {404}
        assert response.status_code in refused, f"{case.formatted_path}: {response.text}"
        assert _last_event(database) == before, f"{case.formatted_path} wrote an event"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        assert "field" in error, error
