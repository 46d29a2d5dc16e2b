"""The browser fixtures of ``test_browser`` (Chromium, the served app), for every page module."""

from tests.tracker.http.pages.test_browser import browser, chromium, site

__all__ = ["browser", "chromium", "site"]
