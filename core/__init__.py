"""Shared core: settings, database, users and domain events. Depends on nothing else here."""
