"""HTTP: the JSON API under /api/v1, webhooks and pages. Translates HTTP into service calls."""
