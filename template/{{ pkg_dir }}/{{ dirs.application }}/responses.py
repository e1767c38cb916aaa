"""What every reply carries, whatever the framework that sends it."""

# Every response: browsers must not guess a content type other than the one sent.
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff"}

# Every response that holds a token (RFC 6749 §5.1): never stored by a cache.
TOKEN_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# CORS (``CORS_ALLOW_ORIGINS``): bearer tokens, no cookies, so no credentials mode.
CORS_METHODS = ("GET", "POST", "DELETE")
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type")
CORS_EXPOSED_HEADERS = ("Retry-After", "WWW-Authenticate")
CORS_MAX_AGE_SECONDS = 600
