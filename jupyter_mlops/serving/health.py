"""``python -m jupyter_mlops.serving.health``: exit 0 when this server answers ``/ready``.

The image's ``HEALTHCHECK`` runs it. It reads the settings the server itself reads (server.json,
then the environment), so it probes the address, port and scheme the server really uses. A
self-signed certificate is not verified: this checks readiness, not identity.
"""

from __future__ import annotations

import ssl
import sys
import urllib.request

from .config import ServerConfig

_WILDCARD = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def probe_url(config: ServerConfig) -> str:
    host = _WILDCARD.get(config.host, config.host)
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if config.tls_cert else 'http'}://{host}:{config.port}/ready"


def probe(url: str, timeout: float = 2.0) -> str | None:
    """None when ``url`` answers 200; else what went wrong, in one line."""
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({})]  # never via a proxy
    if url.startswith("https"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
    try:
        with urllib.request.build_opener(*handlers).open(url, timeout=timeout) as resp:
            return None if resp.status == 200 else f"{url} answered {resp.status}"
    except OSError as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"


def main() -> int:
    problem = probe(probe_url(ServerConfig.load()))
    if problem:
        print(problem, file=sys.stderr)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
