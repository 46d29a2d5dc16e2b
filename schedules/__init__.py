"""Series and occurrences: recurrence, iCalendar feeds, the clock and its jobs.

This package never imports ``tracker``; ``tracker`` composes it.
"""
