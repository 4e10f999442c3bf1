"""One router per resource: briefs (the API), pages (the browser), ops (health and metrics)."""
