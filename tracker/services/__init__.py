"""One function per use case: opens the session, calls the domain, commits, then reacts."""
