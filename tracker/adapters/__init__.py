"""Formats from outside: Zoom webhooks and reports, CSV files."""
