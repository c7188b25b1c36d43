"""Who may see the console: a bearer token or basic-auth credentials, known to the adapter only as SHA-256 hashes,
compared in constant time. No login form and no session: the browser (or a test) sends the Authorization header
with every request, and a missing or wrong one gets 401 with a WWW-Authenticate challenge."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from adapter.config import ConsoleConfig

CHALLENGE = 'Basic realm="wl-adapter console", charset="UTF-8"'
BEARER_CHALLENGE = 'Bearer realm="wl-adapter console"'


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _bearer_ok(token: str, cfg: ConsoleConfig) -> bool:
    return bool(cfg.token_sha256) and hmac.compare_digest(sha256_hex(token), cfg.token_sha256.lower())


def _basic_ok(encoded: str, cfg: ConsoleConfig) -> bool:
    try:
        name, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    wanted = dict(cfg.users).get(name)
    # hash even for an unknown name, so the answer takes as long whether or not the name exists
    return hmac.compare_digest(sha256_hex(password), wanted or "0" * 64) and wanted is not None


def authorised(header: str | None, cfg: ConsoleConfig) -> bool:
    scheme, _, value = (header or "").strip().partition(" ")
    value = value.strip()
    if not value:
        return False
    if scheme.lower() == "bearer":
        return _bearer_ok(value, cfg)
    if scheme.lower() == "basic":
        return _basic_ok(value, cfg)
    return False


def challenges(cfg: ConsoleConfig) -> list[str]:
    """The WWW-Authenticate headers to send with a 401: one per configured way in."""
    out = []
    if cfg.token_sha256:
        out.append(BEARER_CHALLENGE)
    if cfg.users:
        out.append(CHALLENGE)
    return out
