"""Every form a leaked secret could take in text, and a finder that names where it appeared."""

from __future__ import annotations

import base64
import json
import traceback
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

#: distinctive, long, full of characters encodings rewrite (+ & = space); no "/" (snmpsim
#: names a file after the community)
SECRET = "Zq7.mcuctl+S3cret&leak=probe 9f2b~c41e"
WRONG = "Wr0ng.pw+ab&cd=ef 0017~e5d3"
USERS = ("admin", "mcuctl", "feed")


def forms(secret: str) -> dict[str, str]:
    """The secret as it would look raw, base64'd (alone or as user:secret), URL-, XML-, JSON-escaped."""
    raw = secret.encode()
    out = {
        "raw": secret,
        "base64": base64.b64encode(raw).decode(),
        "base64url": base64.urlsafe_b64encode(raw).decode(),
        "url": quote(secret, safe=""),
        "url+": quote_plus(secret),
        "xml": escape(secret),
        "json": json.dumps(secret)[1:-1],
        "hex": raw.hex(),
    }
    for user in USERS:
        out[f"basic:{user}"] = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return out


def leaks(text: str, *secrets: str) -> list[str]:
    """Names of the forms of `secrets` found in `text` (empty when clean)."""
    return [
        f"{name} of {s[:4]}…"
        for s in secrets
        for name, form in forms(s).items()
        if form and form in text
    ]


def exception_text(exc: BaseException) -> str:
    """str, repr, to_dict and the whole formatted chain (causes and contexts) of an exception."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    to_dict = getattr(exc, "to_dict", None)
    if callable(to_dict):
        parts.append(json.dumps(to_dict(), ensure_ascii=False, default=str))
    return "\n".join(parts)
