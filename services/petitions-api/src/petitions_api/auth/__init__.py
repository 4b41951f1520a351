"""Sign-in: the built-in token issuer, token verification and API keys for this service."""
