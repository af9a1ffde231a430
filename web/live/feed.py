"""One socket's share of the live bus: the events its user may see, queued for sending."""

import asyncio

from core.bus import GAP, Message
from core.models import User
from web.live.visibility import visible

#: Messages a socket may have waiting; a client this far behind reconnects and catches up.
LIMIT = 1_000


class Behind(Exception):
    """The socket may have missed messages: the client must reconnect and catch up."""


class Feed:
    """A bus listener that keeps what the user may see until the socket sends it.

    It only queues (listeners run on the event loop for every event of the process);
    a slow client or a bus gap marks it behind rather than growing without bound.
    """

    def __init__(self, user: User, limit: int = LIMIT) -> None:
        self.user, self.limit = user, limit
        self.closed = False
        self._behind = False
        self._pending: list[Message] = []
        self._ready = asyncio.Event()

    def __call__(self, message: Message | None) -> None:
        if message is GAP or len(self._pending) >= self.limit:
            self._behind = True
        elif visible(message, self.user):
            self._pending.append(message)
        else:
            return
        self._ready.set()

    def close(self) -> None:
        """The client went away: wake the sender so it stops."""
        self.closed = True
        self._ready.set()

    async def take(self) -> list[Message]:
        """The messages queued since the last call (empty once closed); raises
        :class:`Behind` when some may have been lost."""
        await self._ready.wait()
        self._ready.clear()
        if self._behind:
            raise Behind
        batch, self._pending = self._pending, []
        return batch
