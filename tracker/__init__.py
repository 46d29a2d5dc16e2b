"""The CME webinar tracker service: composes ``schedules`` and ``notifications``.

Import order inside the service is one-way: leaf modules (errors, clock) -> models ->
domain -> interfaces (feeds, exports) -> HTTP handlers and CLI.
"""
