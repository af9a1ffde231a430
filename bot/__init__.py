"""Channels: Telegram (aiogram) and WhatsApp Cloud API webhooks, senders and the outbox."""
