"""The Zoom account integration's HTTP client (SPEC 8): the one part of tracker outside
``tracker.http`` that speaks HTTP, kept apart so that the domain and the adapters stay free of
aiohttp (import-linter contract in ``pyproject.toml``)."""

from __future__ import annotations

from tracker.settings import Settings
from tracker.zoom.client import ZoomClient


def client_for(settings: Settings) -> ZoomClient | None:
    """This process's client for the configured account, ``None`` without the settings."""
    if not settings.zoom_enabled:
        return None
    assert settings.zoom_account_id and settings.zoom_client_id and settings.zoom_client_secret
    return ZoomClient(
        account_id=settings.zoom_account_id,
        client_id=settings.zoom_client_id,
        client_secret=settings.zoom_client_secret.get_secret_value(),
        api_url=settings.zoom_api_url,
        oauth_url=settings.zoom_oauth_url,
    )
