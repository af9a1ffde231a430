"""The Altegio REST API client: records, paced under Altegio's rate limit, retried on 429/5xx.

Altegio answers ``{"success": bool, "data": ..., "meta": {...}}`` and carries an error's
text in ``meta.message``. A 429 or a 5xx (or a timeout) is backed off and tried again;
a 401/403/404/422 or a body that is not that envelope is an :class:`AltegioError` at
once, so a failure is never mistaken for "no records".
"""

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout

from core.queue import backoff

DEFAULT_API = "https://api.alteg.io/api/v1"
ACCEPT = "application/vnd.api.v2+json"
#: Altegio's documented limit: 200 requests a minute and 5 a second.
LIMITS = ((5, 1.0), (200, 60.0))
TIMEOUT = ClientTimeout(total=30)


class AltegioError(Exception):
    """The API refused or failed a request; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"Altegio API {status or 'unreachable'}: {message}"[:500])
        self.status = status
        self.retry_after = retry_after


class Limiter:
    """Sliding windows (5 per second and 200 per minute by default) that each request
    waits its turn in, so a long pull stays under the API's limit instead of meeting 429s.

    A request is counted from when its answer came back: Altegio saw it at some moment
    before that, so spacing by answers keeps every window at the server under the limit
    without guessing at network delays. Meant for one caller at a time (a pull is
    sequential).
    """

    def __init__(self, limits: tuple[tuple[int, float], ...] = LIMITS) -> None:
        self.limits = limits
        self._sent: deque[float] = deque(maxlen=max(n for n, _ in limits))

    async def wait(self) -> None:
        """Until one more request fits every window."""
        delay = self._delay(time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)

    def answered(self) -> None:
        """A request was answered (or failed): it counts from now."""
        self._sent.append(time.monotonic())

    def _delay(self, now: float) -> float:
        """How long until one more request fits every window."""
        delay = 0.0
        for count, window in self.limits:
            if len(self._sent) >= count:
                delay = max(delay, self._sent[-count] + window - now)
        return delay


@dataclass
class AltegioApi:
    """One company's API: ``session`` is shared, ``limiter`` None switches pacing off
    (the benchmark's comparison), ``attempts`` bounds retries of 429s and 5xx."""

    session: ClientSession
    base_url: str
    company_id: int
    partner_token: str
    user_token: str
    limiter: Limiter | None = None
    attempts: int = 6
    backoff_base: float = 0.5

    async def records(
        self, *, page: int, count: int, changed_after: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of records, deleted ones included, and ``meta.total_count``."""
        params = {"page": str(page), "count": str(count), "with_deleted": "1"}
        if changed_after is not None:
            params["changed_after"] = changed_after
        data, meta = await self._get(f"/records/{self.company_id}", params)
        total = meta.get("total_count") if isinstance(meta, dict) else None
        if not isinstance(data, list) or not isinstance(total, int):
            raise AltegioError(200, "malformed records page (no list or no meta.total_count)")
        return data, total

    async def record(self, record_id: int) -> dict[str, Any]:
        """One record by id."""
        data, _ = await self._get(f"/record/{self.company_id}/{record_id}", {})
        if not isinstance(data, dict):
            raise AltegioError(200, "malformed record (data is not an object)")
        return data

    async def _get(self, path: str, params: dict[str, str]) -> tuple[Any, Any]:
        for attempt in range(1, self.attempts + 1):
            if self.limiter is not None:
                await self.limiter.wait()
            try:
                return await self._once(path, params)
            except AltegioError as exc:
                if not _retryable(exc.status) or attempt == self.attempts:
                    raise
                delay = exc.retry_after or backoff(attempt, base=self.backoff_base, cap=30)
            await asyncio.sleep(delay.total_seconds() if isinstance(delay, timedelta) else delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(self, path: str, params: dict[str, str]) -> tuple[Any, Any]:
        try:
            return await self._request(path, params)
        finally:
            if self.limiter is not None:
                self.limiter.answered()

    async def _request(self, path: str, params: dict[str, str]) -> tuple[Any, Any]:
        headers = {
            "Accept": ACCEPT,
            "Authorization": f"Bearer {self.partner_token}, User {self.user_token}",
        }
        url = self.base_url.rstrip("/") + path
        try:
            async with self.session.get(
                url, params=params, headers=headers, timeout=TIMEOUT
            ) as response:
                status, retry_after = response.status, response.headers.get("Retry-After")
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = None
        except (ClientError, TimeoutError) as exc:
            raise AltegioError(0, f"{type(exc).__name__}: {exc}") from None
        return _envelope(status, body, retry_after)


def _envelope(status: int, body: Any, retry_after: str | None) -> tuple[Any, Any]:
    """``(data, meta)`` of a successful answer, else the error it is."""
    meta = body.get("meta") if isinstance(body, dict) else None
    if status != 200 or not isinstance(body, dict) or body.get("success") is not True:
        message = meta.get("message") if isinstance(meta, dict) else None
        if status == 200:
            message = message or "malformed body (not a success envelope)"
        wait = min(60.0, float(retry_after)) if retry_after and retry_after.isdigit() else None
        raise AltegioError(status, str(message or "no message"), wait)
    return body.get("data"), meta


def _retryable(status: int) -> bool:
    return status in (0, 429) or status >= 500
