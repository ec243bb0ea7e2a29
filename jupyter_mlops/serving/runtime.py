"""What one worker holds: the models, the scoring script, batchers, readiness, metrics, keys."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import numpy as np

from . import layout
from .auth import KeyChecker
from .batching import Batcher
from .coalescing import Coalescer, Ready, coalescable
from .collector import DataCollector, current_request
from .config import ServerConfig
from .errors import HTTPError
from .metrics import Metrics
from .request import Request
from .scorers import ModelScorer, ScriptScorer, load_model_scorer
from .tensors import takes_float_rows

log = logging.getLogger("jupyter_mlops.serving")


class Runtime:
    def __init__(self, config: ServerConfig, freeze_after_load: bool = False) -> None:
        self.config = config
        self.freeze_after_load = freeze_after_load  # the server's workers: see _freeze_heap
        self.metrics = Metrics()
        self.keys = KeyChecker(config.auth_keys, config.keys_file) if config.auth else None
        self.scorers: dict[str, dict[int, ModelScorer]] = {}
        self.script: ScriptScorer | None = None
        self.batchers: dict[tuple[str, int], Batcher] = {}
        self.coalescers: dict[tuple[str, int], Coalescer | None] = {}
        self.ready = False
        self.draining = False  # set on SIGTERM with a drain period: answers carry Connection: close
        self.failure: str | None = None
        self._loaded = threading.Event()
        self._only: ModelScorer | None = None
        # The one model, with no scoring script, when it takes rows of floats (one float input): the
        # fast parse of /score and /invocations (encoding.number_rows) is for it. Set once loaded.
        self.float_rows_model: ModelScorer | None = None
        self.collector: DataCollector | None = None
        first = config.models[0] if config.models else {}
        self.default_model = (first.get("name"), first.get("version"))

    def start_collecting(self, loop: Any = None) -> None:
        """In the worker process (after fork): spool and writer thread of our own."""
        cfg = self.config
        if cfg.collect and self.collector is None:
            if not cfg.collect_store:
                raise ValueError("collect is on but collect_store is not set")
            spool = Path(cfg.collect_spool_dir) if cfg.collect_spool_dir else cfg.app_path / "spool"
            self.collector = DataCollector(
                cfg.deployment or "local", cfg.collect_store, spool, cfg.collect_sample_rate, cfg.collect_flush_s,
                cfg.collect_max_spool_bytes, self.default_model).start(loop)
            self.metrics.collector = self.collector

    # --- start-up ---------------------------------------------------------------------------
    def start_loading(self) -> None:
        """Load models and run init() on a thread: liveness answers meanwhile, readiness waits."""
        if not self._loaded.is_set():
            threading.Thread(target=self._load, name="mlops-init", daemon=True).start()

    def load(self) -> bool:
        """Load in the foreground (``listen_when_ready``); False when init failed."""
        self._load()
        return self.ready

    def write_status(self, state: str) -> None:
        if not self.config.status_dir:
            return
        import json

        folder = Path(self.config.status_dir)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".worker-{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"state": state, "failure": self.failure, "pid": os.getpid()}))
        os.replace(tmp, folder / f"worker-{os.getpid()}.json")

    def _load(self) -> None:
        try:
            app = self.config.app_path
            layout.install(app, self.config.models)
            threads = self.config.intra_op_threads or (1 if self.config.resolved_workers() > 1 else 0)
            for entry in self.config.models:
                path = app / layout.MODELS_DIR / entry["name"] / str(entry["version"]) / entry["path"]
                scorer = load_model_scorer(entry, path, threads)
                if scorer is not None:
                    self.scorers.setdefault(entry["name"], {})[int(entry["version"])] = scorer
            try:
                only: ModelScorer | None = self.only_model()
            except HTTPError:  # several models or none: /score's general path says so
                only = None
            if only is not None and takes_float_rows(only.inputs) and not self.config.script:
                self.float_rows_model = only
            if self.config.script:
                self.script = ScriptScorer(app / self.config.script)
                self.script.init()
            self.ready = True
            refs = [f"{m['name']}:{m['version']}" for m in self.config.models]
            log.info("ready: models %s, script %s", refs, self.config.script)
        except BaseException as exc:
            self.failure = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
            log.exception("init failed: %s", self.failure)
        finally:
            if self.freeze_after_load:
                _freeze_heap()
            self._loaded.set()

    def require_ready(self) -> None:
        if not self.ready:
            reason = f"init failed: {self.failure}" if self.failure else "still loading"
            raise HTTPError(503, f"The service is not ready ({reason}).")

    # --- scoring ------------------------------------------------------------------------------
    def find(self, name: str, version: str | None = None) -> ModelScorer:
        versions = self.scorers.get(name)
        if not versions:
            raise HTTPError(404, f"Model {name!r} not found in this server.")
        if version is None:
            return versions[max(versions)]
        if not (version.isascii() and version.isdigit()) or int(version) not in versions:
            raise HTTPError(404, f"Model {name!r} has no version {version!r} in this server.")
        return versions[int(version)]

    def only_model(self) -> ModelScorer:
        if self._only is not None:
            return self._only
        all_ = [s for versions in self.scorers.values() for s in versions.values()]
        if len(all_) != 1:
            names = ", ".join(f"{s.name}:{s.version}" for s in all_) or "none"
            raise HTTPError(400, f"This server has no scoring script and several or no no-code models ({names}); "
                                 "call /v2/models/{name}/infer.")
        self._only = all_[0]
        return self._only

    def predict(self, scorer: ModelScorer, inputs: dict[str, np.ndarray],
                alone: bool = False) -> Awaitable[dict[str, np.ndarray]]:
        """The model's outputs for ``inputs``, to await (see Coalescer.predict for why not a coroutine);
        ``alone``: no other request can arrive in this turn of the loop (Request.alone)."""
        if self.config.max_batch_size > 1:
            batcher = self.batchers.get(scorer.key)
            if batcher is None:
                batcher = self.batchers[scorer.key] = Batcher(
                    scorer, self.config.max_batch_size, self.config.max_batch_delay_ms / 1000, self.metrics
                )
            return batcher.predict(inputs)
        # onnxruntime is fast and cannot hang: inline beats a thread hop; with what else came this turn
        try:
            coalescer = self.coalescers[scorer.key]
        except KeyError:
            coalescer = self.coalescers[scorer.key] = (
                Coalescer(scorer, self.metrics) if self.config.coalesce and coalescable(scorer) else None)
        if coalescer is None:
            return Ready(scorer.predict(inputs))
        return coalescer.predict(inputs, alone)

    async def run_script(self, body: str, req: Request) -> Any:
        assert self.script is not None
        timeout = self.config.scoring_timeout_s
        model, version = self.default_model
        # For the Collector SDK: the script's own records carry this request's ids (to_thread copies it).
        current_request.set({"request_id": req.request_id, "correlation_id": req.headers.get("x-ms-client-request-id"),
                             "model": model, "model_version": version})
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.script.run, body, req.headers), timeout)
        except asyncio.TimeoutError:
            raise HTTPError(504, f"Scoring timed out after {timeout:g} s.") from None


def _freeze_heap() -> None:
    """Move what start-up made (modules, the models, the runtime's objects: some 160,000 objects
    with onnxruntime and scikit-learn loaded) out of the cyclic garbage collector's reach.

    Under concurrent load the objects of requests in flight survive young collections and pile up
    as "long-lived", so the collector runs full passes every few seconds; each walked every object
    in the process, 80-100 ms with the event loop stopped (p99 at 64 connections: 80 ms, against
    7 ms frozen; bench/serve.py). Frozen objects are never collected, so garbage is collected
    first, once.

    The young generation's threshold goes up too. The collector counts container objects made less
    those freed, and each request in flight holds some ten (its request, header dict, coroutine,
    future, response...): at 64 connections the default threshold of 700 was crossed every ~70
    requests, each time walking the objects of the requests in flight (1.2-2.4 % of a loaded worker's
    CPU, perf). Their objects are freed by reference counting when answered, so what the collector
    is for here, cycles, is rare; the count stays far below 10,000 under that load."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_THRESHOLD), middle, old)


YOUNG_THRESHOLD = 10_000  # container objects made less those freed, before a young collection


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s [pid %(process)d] %(name)s: %(message)s",
    )
