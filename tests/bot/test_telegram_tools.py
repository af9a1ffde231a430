"""`funnelbox telegram set-webhook` and `poll`: the same code paths, over real HTTP."""

import asyncio

from bot import telegram
from core.crypto import Vault
from inbox.models import Channel, Message
from tests.conftest import SECRET_KEY
from tests.fakes.telegram import FakeTelegram, TelegramUser


async def _bot(channel_id: int):
    channel = await Channel.get(id=channel_id)
    credentials = Vault(SECRET_KEY.get_secret_value()).open(channel.credentials)
    return channel, credentials, telegram.make_bot(channel, credentials["token"])


async def test_set_webhook_registers_url_and_secret(
    telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    channel, credentials, bot = await _bot(telegram_channel["id"])
    try:
        url = f"https://crm.example.com/webhooks/telegram/{channel.id}"
        await telegram.set_webhook(bot, url=url, secret=credentials["webhook_secret"])
    finally:
        await bot.session.close()
    call = fake_telegram.calls_to("setWebhook")[0]
    assert call.params["url"] == url
    assert call.params["secret_token"] == credentials["webhook_secret"]


async def test_long_polling_feeds_the_same_handlers(
    telegram_channel: dict, fake_telegram: FakeTelegram
) -> None:
    channel, _, bot = await _bot(telegram_channel["id"])
    alice = TelegramUser(id=7001, first_name="Alice")
    fake_telegram.push_update(fake_telegram.text_update(alice, "via polling"))
    polling = asyncio.create_task(telegram.poll(telegram.build_dispatcher(), bot, channel))
    try:
        async with asyncio.timeout(10):
            while not await Message.exists():
                await asyncio.sleep(0.05)
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await bot.session.close()
    assert (await Message.get()).text == "via polling"
    left = [t for t in asyncio.all_tasks() if t.get_coro().__qualname__ == "Dispatcher._polling"]
    assert left == []  # nothing polls on after the command is stopped
    assert fake_telegram.calls_to("deleteWebhook")
