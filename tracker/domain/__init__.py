"""The rules: models and the functions that read and change them. Takes a session, flushes,
never commits, knows nothing of HTTP."""
