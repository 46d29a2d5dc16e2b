"""HTTP handlers: parse, call the domain, serialise. No business rule lives here."""
