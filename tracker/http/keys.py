"""Typed keys for what the application and requests carry (leaf module: imports nothing of ours
beyond settings and the database)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from notifications.worker import DeliveryWorker
from tracker.db import Database
from tracker.domain.mailings import MailSettings
from tracker.domain.models import Organizer, Physician, WebSession
from tracker.services.context import Services
from tracker.settings import Settings
from tracker.zoom.client import ZoomClient

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
OPENAPI = web.AppKey("openapi", dict[str, Any])
SERVICES = web.AppKey("services", Services)
MAIL = web.AppKey("mail", MailSettings)
WORKER = web.AppKey("worker", DeliveryWorker)
#: This process's Zoom API client, when the account is configured (SPEC 8).
ZOOM = web.AppKey("zoom", ZoomClient)
ORGANIZER = web.RequestKey("organizer", Organizer)
PHYSICIAN = web.RequestKey("physician", Physician)
#: The organiser's browser session a page was asked with (its menu's sign-out posts its token).
ORGANIZER_SESSION = web.RequestKey("organizer_session", WebSession)


def organizer_of(request: web.Request) -> Organizer:
    """The organiser the auth guard attached to this request."""
    return request[ORGANIZER]


def physician_of(request: web.Request) -> Physician:
    """The physician whose token opened this request."""
    return request[PHYSICIAN]
