"""Altegio booking sync: booking statuses mapped to pipeline stages (a coming issue)."""
