"""Funnels: pipelines, stages, deals and their settings (custom fields, tags, lost reasons)."""
