"""``jupyter-mlops serve`` (in the foreground, for CI and containers) and ``%serve`` (in the background)."""

from __future__ import annotations

from argparse import Namespace
from functools import partial
from typing import Any

from .. import api
from ..names import parse_float, parse_int
from . import options
from .spec import Command, Invocation, Option


def _serve(inv: Invocation, a: Namespace) -> Any:
    return api.serve(
        a.models, script=a.script, host=a.host, port=a.port, workers=a.workers, auth_keys=a.auth_keys,
        tls_cert=a.tls_cert, tls_key=a.tls_key, max_batch_size=a.max_batch_size,
        max_batch_delay_ms=a.max_batch_delay_ms, coalesce=not a.no_coalesce, busy_poll_us=a.busy_poll_us,
        timeout=a.timeout,
        foreground=not inv.notebook,
        workspace=inv.workspace,
    )


COMMANDS = (
    Command(("serve",), "Serve registered models over HTTP (CLI: in the foreground; notebook: in the background).", (
        Option("models", ("--model", "-m"), "model NAME[:VERSION|@ALIAS] (repeatable)", many=True, required=True,
               metavar="NAME[:VERSION|@ALIAS]", complete="model_ref"),
        Option("script", ("--script", "-s"), "scoring script with init() and run(data)", complete="path"),
        Option("host", ("--host",), "address to listen on", default="127.0.0.1"),
        Option("port", ("--port",), "port (default: 5001 in the foreground, a free one in a notebook; 0: a free one)",
               parse=partial(parse_int, what="port")),
        Option("workers", ("--workers",), "worker processes (0: one per core)",
               parse=partial(parse_int, what="workers"), default=1),
        Option("auth_keys", ("--auth-key",), "accepted bearer key (repeatable; $MLOPS_AUTH_KEYS keeps keys off the "
               "process list)", many=True, default=[], metavar="KEY"),
        Option("tls_cert", ("--tls-cert",), "certificate file (PEM)", complete="path"),
        Option("tls_key", ("--tls-key",), "private key file (PEM)", complete="path"),
        Option("max_batch_size", ("--max-batch-size",), "adaptive batching: rows per run (0: off)",
               parse=partial(parse_int, what="batch size"), default=0),
        Option("max_batch_delay_ms", ("--max-batch-delay-ms",), "adaptive batching: longest wait",
               parse=partial(parse_float, what="delay"), default=2.0),
        options.no_coalesce(),
        options.busy_poll(),
        Option("timeout", ("--timeout",), "scoring timeout in seconds", parse=partial(parse_float, what="timeout"),
               default=60.0),
    ), _serve, magic="serve"),
)
