"""Inbox: contacts and, with the channels, their dialogs and messages."""
