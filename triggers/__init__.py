"""Stage triggers and automations: auto-messages, auto-tasks, deal-source rules."""
