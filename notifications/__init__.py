"""Outbox, message composition and mail transports (see issue 4).

This package never imports ``tracker``.
"""
