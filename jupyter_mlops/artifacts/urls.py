"""Show store URLs without their secrets."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.\-]*://)(?P<user>[^:/@]*):[^@/]*@", re.I)
_QUERY_SECRET = re.compile(r"(?i)((?:password|sig|accountkey|key|token)=)[^&;]+")


def redact_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``; keys in queries masked too."""
    url = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
    return _QUERY_SECRET.sub(r"\1***", url)
