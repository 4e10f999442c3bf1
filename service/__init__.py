"""govbrief: grounded, structured briefs of Chinese local-government annual reports."""

from __future__ import annotations

from importlib import metadata


def package_version() -> str | None:
    """The installed govbrief's version; None when running from a checkout that was never installed."""
    try:
        return metadata.version("govbrief")
    except metadata.PackageNotFoundError:  # pragma: no cover - a bare checkout
        return None
