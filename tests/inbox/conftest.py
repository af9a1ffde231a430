"""Inbox tests that send use the channel fixtures: a pipeline, channels, fake messengers,
and outbox workers to show what is (not) sent."""

from tests.bot.conftest import (  # noqa: F401
    fake_graph,
    fake_telegram,
    inbox_stage,
    make_worker,
    telegram_channel,
    whatsapp_channel,
)
