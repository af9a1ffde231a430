"""The Telegram bots' conversation state: in Redis, shared by every process, when it is
configured, and never a reason for a customer's message to wait.

aiogram reads the state of every update before any handler runs, so with Redis away no
update could be processed at all. :class:`SharedState` keeps this process's own copy of
what it read and wrote: while Redis is unreachable the copy answers reads and takes the
writes, and Redis is written again once it answers. (A state set by another process
during an outage is not seen here until Redis is back.)
"""

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey

from core.queue import infrastructure

log = logging.getLogger(__name__)
T = TypeVar("T")


class SharedState(BaseStorage):
    """``shared`` (aiogram's ``RedisStorage``) with this process's copy as a fallback.

    The copy holds only keys with a state or data, so chats without any cost nothing.
    """

    def __init__(self, shared: BaseStorage) -> None:
        self.shared = shared
        self._states: dict[StorageKey, str] = {}
        self._data: dict[StorageKey, dict[str, Any]] = {}

    async def _shared(self, call: Callable[[], Awaitable[T]], fallback: T) -> T:
        """``call``'s answer, or ``fallback`` when Redis cannot be reached."""
        try:
            return await call()
        except Exception as exc:
            if not infrastructure(exc):
                raise
            log.warning("bot state: Redis unreachable, using this process's copy: %s", exc)
            return fallback

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        _keep(self._states, key, state.state if isinstance(state, State) else state)
        await self._shared(lambda: self.shared.set_state(key, state), None)

    async def get_state(self, key: StorageKey) -> str | None:
        found = await self._shared(lambda: self.shared.get_state(key), self._states.get(key))
        _keep(self._states, key, found)
        return found

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        _keep(self._data, key, dict(data))
        await self._shared(lambda: self.shared.set_data(key, data), None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        mine = dict(self._data.get(key) or {})
        found = await self._shared(lambda: self.shared.get_data(key), mine)
        _keep(self._data, key, dict(found))
        return found

    async def close(self) -> None:
        await self.shared.close()


def _keep(copy: dict[StorageKey, Any], key: StorageKey, value: Any) -> None:
    """Remember ``value`` for ``key``, or forget the key when there is nothing to keep."""
    if value:
        copy[key] = value
    else:
        copy.pop(key, None)
