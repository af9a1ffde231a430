"""Trigger tests use the channel fixtures: a pipeline, a Telegram channel and its fake."""

from tests.bot.conftest import fake_telegram, inbox_stage, telegram_channel  # noqa: F401
