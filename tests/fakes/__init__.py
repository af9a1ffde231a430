"""Fake external APIs (Telegram Bot API, WhatsApp Cloud / Graph API) served over real HTTP.

Channel tests talk to these exactly as they would to the real services, so the wire format
(paths, bodies, error envelopes) is exercised end to end without leaving 127.0.0.1.
"""
