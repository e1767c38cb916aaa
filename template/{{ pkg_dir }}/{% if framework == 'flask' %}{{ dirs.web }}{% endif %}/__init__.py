"""Flask adapter: the HTTP API of the auth service."""
