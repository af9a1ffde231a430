"""Staff chats: a user links their Telegram chat with one of the business's bots, and the
bot tells them about tasks given to them. The only code that writes ``StaffChat``.

Linking: the user asks for a code (``link_code``), valid for an hour and signed with the
secret key, and sends ``/start <code>`` to a bot (or opens ``t.me/<bot>?start=<code>``).
The bot's /start handler checks the signature and remembers the chat.

Notifying: a consumer of ``task.created`` sends one message per task whose trigger asks
for it, then stamps ``Task.notified_at`` so a redelivered event stays quiet. A crash
between Telegram's answer and that stamp sends the note again: a duplicate note is
better than none.
"""

import hmac
import logging
import re
from datetime import UTC, datetime, timedelta

from aiogram import types
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import CommandObject

from bot.models import StaffChat
from bot.senders import BotSource
from core.crypto import Vault
from core.events import change
from core.models import Event, User
from inbox.models import Channel
from triggers import tasks
from triggers.models import Task

log = logging.getLogger(__name__)
LINKED = "Done: this chat now gets your Funnelbox task notifications."
BAD_LINK = "This link is not valid (links work for an hour). Ask for a new one in Funnelbox."

LINK_TTL = timedelta(hours=1)
#: ``link_<user id>_<expiry, unix seconds>_<signature>``: fits Telegram's 64 characters
#: of [A-Za-z0-9_-] for a /start parameter.
_CODE = re.compile(r"^link_(\d{1,10})_(\d{10})_([A-Za-z0-9_-]{22})$")


def link_code(vault: Vault, *, user: User, now: datetime | None = None) -> tuple[str, datetime]:
    """A /start code that links the sender's chat to ``user``, and when it expires."""
    expires = (now or datetime.now(UTC)) + LINK_TTL
    body = f"{user.id}_{int(expires.timestamp())}"
    return f"link_{body}_{vault.mac(body)}", expires.replace(microsecond=0)


def read_link_code(vault: Vault, code: str, *, now: datetime | None = None) -> int | None:
    """The user id a valid, unexpired code names, else None."""
    match = _CODE.fullmatch(code)
    if match is None:
        return None
    user_id, expiry, signature = match.groups()
    if not hmac.compare_digest(vault.mac(f"{user_id}_{expiry}"), signature):
        return None
    if int(expiry) < (now or datetime.now(UTC)).timestamp():
        return None
    return int(user_id)


async def get_chat(*, user: User) -> StaffChat | None:
    """The user's linked chat, if any."""
    return await StaffChat.get_or_none(user=user)


async def link_chat(*, user_id: int, channel: Channel, chat_id: str) -> StaffChat | None:
    """Remember ``chat_id`` as the user's chat with ``channel``'s bot (replacing an
    earlier one); None when the user is gone or inactive."""
    user = await User.get_or_none(id=user_id, is_active=True)
    if user is None:
        return None
    async with change(user) as batch:
        staff_chat, _ = await StaffChat.update_or_create(
            user=user, defaults={"channel": channel, "chat_id": chat_id}
        )
        await batch.record("user.telegram_linked", user_id=user.id, channel_id=channel.id)
    return staff_chat


async def on_link(
    message: types.Message, command: CommandObject, channel: Channel, vault: Vault
) -> None:
    """``/start link_...`` from a staff member: link this chat, say whether it worked."""
    user_id = read_link_code(vault, command.args or "")
    chat = str(message.chat.id)
    linked = user_id is not None and await link_chat(user_id=user_id, channel=channel, chat_id=chat)
    await message.answer(LINKED if linked else BAD_LINK)


async def unlink_chat(*, user: User) -> None:
    """Forget the user's chat; the bot stops writing to them."""
    async with change(user) as batch:
        if await StaffChat.filter(user=user).delete():
            await batch.record("user.telegram_unlinked", user_id=user.id)


class TaskNotifier:
    """Tells assignees about new tasks through the bot they linked with.

    It takes any :class:`~bot.senders.BotSource` (in practice ``bot.telegram.Bots``):
    ``bot.telegram`` imports this module for its /start handler, so importing it back
    would close a circle.
    """

    def __init__(self, vault: Vault, bots: BotSource) -> None:
        self._vault = vault
        self._bots = bots

    async def notify(self, event: Event) -> None:
        """Consumer of ``task.created``: one note per task that asks for it."""
        task_id = (event.data or {}).get("task_id")
        task = await Task.get_or_none(id=task_id).select_related("trigger", "deal")
        if task is None or task.notified_at is not None or task.trigger is None:
            return
        if not task.trigger.config.get("notify_assignee"):
            return
        staff_chat = await StaffChat.get_or_none(user_id=task.assignee_id).select_related("channel")
        if staff_chat is None or not staff_chat.channel.is_active:
            return
        channel = staff_chat.channel
        bot = self._bots.get(channel, self._vault.open(channel.credentials)["token"])
        try:
            await bot.send_message(chat_id=int(staff_chat.chat_id), text=_note(task))
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            # blocked the bot, chat gone: retrying will not help (other errors are retried)
            log.warning("could not tell user about task %s: %s", task.id, exc)
            return
        await tasks.mark_notified(task_id=task.id)


def _note(task: Task) -> str:
    lines = [f"New task: {task.title}", f"Due {task.due_at:%Y-%m-%d %H:%M} UTC"]
    if task.deal is not None:
        lines.append(f"Deal: {task.deal.title}")
    if task.description:
        lines.append(task.description)
    return "\n".join(lines)
