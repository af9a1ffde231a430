"""Trigger tests use the channel fixtures: a pipeline, Telegram and WhatsApp channels, fakes."""

from tests.bot.conftest import (  # noqa: F401
    fake_graph,
    fake_telegram,
    inbox_stage,
    telegram_channel,
    whatsapp_channel,
)
