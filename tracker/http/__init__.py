"""The web edge: routes, the auth guard, problem+json, the API handlers and the pages."""
