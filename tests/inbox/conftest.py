"""Inbox tests that send use the channel fixtures: a pipeline, channels, fake messengers."""

from tests.bot.conftest import (  # noqa: F401
    fake_graph,
    fake_telegram,
    inbox_stage,
    telegram_channel,
    whatsapp_channel,
)
