"""``python -m tracker``: the ``tracker`` command (how ``serve --workers`` starts its children)."""

from tracker.cli import main

main()
