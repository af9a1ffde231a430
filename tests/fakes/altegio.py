"""A fake Altegio REST API (https://developer.alteg.io) served on 127.0.0.1.

It speaks the documented wire format: ``Authorization: Bearer <partner>, User <user>``,
the ``{"success", "data", "meta"}`` envelope with errors in ``meta.message``,
``GET /records/{company_id}`` paged with ``page``/``count`` and ``meta.total_count``,
filtered by ``changed_after`` (naive local time) and listing deleted records only with
``with_deleted=1``, and ``GET /record/{company_id}/{record_id}``::

    async with FakeAltegio(company_id=4564) as fake:
        fake.put(fake.record(1, date="2026-12-03 10:00:00", attendance=2))

``fail_next`` scripts errors (429 with Retry-After, 401, 500, a body that is not the
envelope); ``limit_per_second`` answers 429 past Altegio's own limit, as the real API
would; every request is recorded in ``calls`` with its time.
"""

import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from tests.fakes._server import FakeServer

PARTNER_TOKEN = "partner-token-for-tests"
USER_TOKEN = "user-token-for-tests"


@dataclass(frozen=True)
class AltegioCall:
    path: str
    query: dict[str, str]
    at: float


@dataclass
class _Failure:
    status: int
    body: Any
    retry_after: int | None


class FakeAltegio(FakeServer):
    def __init__(
        self,
        *,
        company_id: int = 4564,
        timezone: str = "Europe/Belgrade",
        limit_per_second: int | None = None,
    ) -> None:
        super().__init__()
        self.company_id = company_id
        self.zone = ZoneInfo(timezone)
        self.limit_per_second = limit_per_second
        self.records: dict[int, dict[str, Any]] = {}
        self.calls: list[AltegioCall] = []
        self.rejected = 0
        self._failures: deque[_Failure] = deque()
        self._recent: deque[float] = deque()
        self.app.router.add_get("/api/v1/records/{company_id}", self._list)
        self.app.router.add_get("/api/v1/record/{company_id}/{record_id}", self._one)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    # --- scripting --------------------------------------------------------------

    def record(
        self,
        record_id: int,
        *,
        date: str = "2026-12-03 10:00:00",
        attendance: int = 0,
        client: dict[str, Any] | None = None,
        services: list[dict[str, Any]] | None = None,
        staff: str = "Maria",
        changed: str = "2026-11-20 09:00:00",
        deleted: bool = False,
        seance_length: int = 3600,
    ) -> dict[str, Any]:
        """A record as ``GET /record`` returns it. ``changed`` is local; the
        ``datetime`` field carries a deliberately wrong offset, as integrators report."""
        local = datetime.fromisoformat(changed).replace(tzinfo=self.zone)
        return {
            "id": record_id,
            "company_id": self.company_id,
            "staff_id": 17,
            "staff": {"id": 17, "name": staff},
            "services": services
            if services is not None
            else [{"id": 5, "title": "Haircut", "cost": 25, "cost_per_unit": 25, "amount": 1}],
            "client": client,
            "date": date,
            "datetime": date.replace(" ", "T") + "+00:00",
            "create_date": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "last_change_date": local.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "attendance": attendance,
            "visit_attendance": attendance,
            "confirmed": 1 if attendance == 2 else 0,
            "deleted": deleted,
            "comment": "",
            "visit_id": str(record_id * 10),
            "seance_length": seance_length,
        }

    def put(self, *records: dict[str, Any]) -> None:
        for record in records:
            self.records[record["id"]] = record

    def fail_next(
        self, status: int, *, times: int = 1, body: Any = None, retry_after: int | None = None
    ) -> None:
        """The next ``times`` requests fail with ``status`` (a ``body`` of ``"garbage"``
        is sent as text that is not JSON; a dict as it is)."""
        for _ in range(times):
            self._failures.append(_Failure(status, body, retry_after))

    def calls_to(self, prefix: str) -> list[AltegioCall]:
        return [c for c in self.calls if c.path.startswith(prefix)]

    # --- the API ------------------------------------------------------------------

    async def _list(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        query = request.query
        page, count = int(query.get("page", 1)), int(query.get("count", 25))
        found = sorted(self.records.values(), key=lambda r: r["id"])
        if query.get("with_deleted") != "1":
            found = [r for r in found if not r["deleted"]]
        if "changed_after" in query:
            after = datetime.strptime(query["changed_after"], "%Y-%m-%d %H:%M:%S")
            after = after.replace(tzinfo=self.zone)
            found = [r for r in found if datetime.fromisoformat(r["last_change_date"]) > after]
        items = found[(page - 1) * count : page * count]
        return self._ok(items, {"page": page, "total_count": len(found)})

    async def _one(self, request: web.Request) -> web.Response:
        if (refused := self._refuse(request)) is not None:
            return refused
        record = self.records.get(int(request.match_info["record_id"]))
        if record is None:
            return self._error(404, "Record not found")
        return self._ok(record, [])

    def _refuse(self, request: web.Request) -> web.Response | None:
        now = time.monotonic()
        self.calls.append(AltegioCall(request.path, dict(request.query), now))
        if self.limit_per_second is not None:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.limit_per_second:
                self.rejected += 1
                return self._error(429, "Too many requests", retry_after=1)
            self._recent.append(now)
        if self._failures:
            failure = self._failures.popleft()
            if failure.body == "garbage":
                return web.Response(status=failure.status, text="<html>oops</html>")
            if failure.body is not None:
                return web.json_response(failure.body, status=failure.status)
            return self._error(failure.status, "Scripted failure", failure.retry_after)
        expected = f"Bearer {PARTNER_TOKEN}, User {USER_TOKEN}"
        if request.headers.get("Authorization") != expected:
            return self._error(401, "Authentication required")
        if request.headers.get("Accept") != "application/vnd.api.v2+json":
            return self._error(400, "Accept header must be application/vnd.api.v2+json")
        if int(request.match_info["company_id"]) != self.company_id:
            return self._error(403, "No access to this company")
        return None

    @staticmethod
    def _ok(data: Any, meta: Any) -> web.Response:
        return web.json_response({"success": True, "data": data, "meta": meta})

    @staticmethod
    def _error(status: int, message: str, retry_after: int | None = None) -> web.Response:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        body = {"success": False, "data": None, "meta": {"message": message}}
        return web.json_response(body, status=status, headers=headers)
