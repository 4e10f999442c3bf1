"""The HTTP service: `create_app(settings)` builds the FastAPI app that `govbrief serve` runs."""

from service.api.app import create_app

__all__ = ["create_app"]
