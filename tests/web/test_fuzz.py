"""Schemathesis fuzzes every operation of the committed OpenAPI document against a real
``funnelbox serve`` on loopback: whatever it sends, the answer is never a server error,
and every error is JSON with a code, a message and the offending field.

Examples are derandomized, so a run is repeatable; a failure prints the request.
"""

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from tests.processes import ROOT, free_port, wait_healthy

SCHEMA = schemathesis.openapi.from_path(ROOT / "web" / "openapi.json").exclude(
    # they would end the fuzzer's own session or revoke its token
    path=["/api/v1/auth/logout", "/api/v1/tokens/{token_id}"]
)


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", *args], env=env, cwd=ROOT,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
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
        asyncio.run(wait_healthy(base))
        pipeline = requests.post(f"{base}/api/v1/pipelines", json={"name": "Sales"},
                                 headers=headers, timeout=5).json()  # fmt: skip
        contact = requests.post(f"{base}/api/v1/contacts", json={"name": "Ann"},
                                headers=headers, timeout=5).json()  # fmt: skip
        requests.post(
            f"{base}/api/v1/deals",
            json={"contact_ids": [contact["id"]], "pipeline_id": pipeline["id"]},
            headers=headers, timeout=5,
        ).raise_for_status()  # fmt: skip
        yield base, headers
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
    case: schemathesis.Case, server: tuple[str, dict[str, str]]
) -> None:
    base, headers = server
    response = case.call(base_url=base, headers=headers, timeout=10)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text}"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]
        assert "field" in error, error
