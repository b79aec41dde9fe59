"""What keeps the dashboard a private, read-mostly window onto one project.

- It binds to loopback unless told otherwise, and then answers only requests addressed to a
  loopback name, so a web page elsewhere cannot reach it through DNS rebinding.
- Reading needs nothing; writing (a review) needs the token printed at start-up, sent in a header
  that a page of another origin cannot set without a CORS preflight, which is never granted.
- Every response forbids inline scripts, event handlers and foreign origins, so even markup that
  slipped through escaping could not run, and never sends the page's address (with its token)
  on as a referrer.
"""

from __future__ import annotations

import ipaddress
import secrets

from overnight.errors import UsageError

TOKEN_HEADER = "X-Overnight-Token"
LOOPBACK_NAMES = ("localhost",)
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), token.encode())


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, allow_remote: bool) -> str | None:
    """Refuse a non-loopback address unless allowed; when allowed, the warning to print."""
    if is_loopback(host):
        return None
    if not allow_remote:
        raise UsageError(
            f"--host {host} would let other machines read this project's runs; "
            "add --allow-remote if that is what you want"
        )
    return (
        f"warning: serving on {host}: anyone who can reach it can read every output and diff "
        "of this project (reviews still need the token)"
    )


def host_name(header: str) -> str:
    """The name in a Host header, without its port (``[::1]:8765`` -> ``::1``)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header
