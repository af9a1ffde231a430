"""Meta Conversions API reports of deal events."""
