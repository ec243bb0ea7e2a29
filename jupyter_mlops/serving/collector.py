"""Inference data collection: each request's inputs, outputs, latency and status, kept safe.

On the request path a record is one bytes format and one copy into this worker's spool (see
spool.py): memory-mapped segments, so the record is in the kernel's page cache before the response
is sent and a SIGKILL of the server loses none of it, with no system call per request. No network,
no waiting. A writer thread has the open segment sealed every ``flush_s`` seconds and uploads each
sealed segment to the artifact store as JSON Lines, one object per (model, version, hour):

    collected/<deployment>/<model>/<version>/<yyyy>/<mm>/<dd>/<hh>/<worker>-<seq>.jsonl

Object names are fixed by the segment, so re-uploading after a crash overwrites rather than
duplicates. A segment is reused only once every object of it is stored; while the store is down
segments wait (with backoff) and are sent when it returns. A worker that starts adopts the spools
of workers that died. Past ``max_spool_bytes`` new records are dropped and counted, never blocking.

Scoring scripts add their own records with :class:`Collector`, correlated with the request.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import random
import re
import secrets
import shutil
import threading
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from .spool import Segment, Spool, dead_spools, read_records

log = logging.getLogger("jupyter_mlops.serving.collector")

current_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("mlops_request", default=None)
_active: DataCollector | None = None  # this worker's collector, for the Collector SDK
_time = time.time


def object_prefix(deployment: str, model: str, version: Any, ts: float) -> str:
    t = datetime.fromtimestamp(ts, timezone.utc)
    return f"collected/{deployment}/{model}/{version}/{t:%Y/%m/%d/%H}"


class DataCollector:
    def __init__(self, deployment: str, store_url: str, spool_root: Path, sample_rate: float = 1.0,
                 flush_s: float = 1.0, max_spool_bytes: int = 256 * 1024 * 1024) -> None:
        self.deployment = deployment
        self.store_url = store_url
        self.sample_rate = sample_rate
        self.sample_all = sample_rate >= 1.0
        self.flush_s = flush_s
        self.max_spool_bytes = max_spool_bytes
        self.worker = f"{os.getpid()}{secrets.token_hex(3)}"
        self.spool_root = spool_root
        self.spool = Spool(spool_root / self.worker)
        self._open: Segment = self.spool.open_segment()
        self._write = self._open.mm.write
        self._offset = 0  # bytes in the open segment
        self._room = 0  # bytes the open segment may still take (0: look at the bounds first)
        self._count = 0  # records in the open segment
        self._last_key: Any = None
        self._hour_end = 0.0
        self._sealed: list[Segment] = []  # waiting for upload, oldest first
        # Counters each written by one thread only (sealed: the event loop's; uploaded: the writer's)
        self._sealed_bytes = 0  # ever sealed
        self._sealed_count = 0
        self._uploaded_bytes = 0
        self._loop: Any = None  # the event loop whose thread owns the open segment
        self._loop_thread: int | None = None
        self.dropped = 0
        self.uploaded = 0
        self._store: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-collector", daemon=True)

    # --- request path ------------------------------------------------------------------------------
    def sampled(self) -> bool:
        return self.sample_all or random.random() < self.sample_rate

    def request_prefix(self, model: Any, version: Any, route: str) -> bytes:
        """The constant middle of a request record for one (model, version, route): computed once.

        Records start with time, deployment, model, model_version (the grouping key). Bytes
        formatting into precomputed pieces, not a dict through a JSON encoder: the request path
        pays for every microsecond."""
        head = orjson.dumps({"deployment": self.deployment, "model": model, "model_version": version,
                             "collector": "request", "route": route})
        return b"," + head[1:-1]

    def record(self, prefix: bytes, key: tuple[Any, Any], status: int, latency_s: float, request_id: bytes,
               correlation_id: bytes, request: bytes, response: bytes) -> None:
        """Spool one request record. Event loop thread only. Every bytes argument is JSON already:
        ``request_id`` without its quotes; ``request`` and ``response`` on one line (see ``one_line``)."""
        ts = _time()
        line = _LINE % (ts, prefix, status, latency_s * 1000.0, request_id, correlation_id, request, response)
        if key is not self._last_key or ts >= self._hour_end:
            self._note_key(key, ts)
        n = len(line)
        if n > self._room:
            self._make_room(n)
            if n > self._room:
                self.dropped += 1
                return
        self._write(line)
        self._room -= n
        self._offset += n
        self._count += 1

    def _note_key(self, key: tuple[Any, Any], ts: float) -> None:
        self._last_key, self._hour_end = key, ts - ts % 3600 + 3600
        self._open.keys.add((*key, int(ts) // 3600))

    def _make_room(self, n: int) -> None:
        """Seal a full segment; then the room left is the least of the segment's and the spool's."""
        if self._offset + n > len(self._open.mm):
            self._seal()
        self._room = max(0, min(len(self._open.mm) - self._offset,
                                self.max_spool_bytes - self.spool_bytes))

    def custom(self, name: str, data: Any) -> None:
        req = current_request.get() or {}
        fields = {"time": time.time(), "deployment": self.deployment, "model": req.get("model"),
                  "model_version": req.get("model_version"), "collector": name,
                  "request_id": req.get("request_id"), "correlation_id": req.get("correlation_id")}
        line = orjson.dumps({**fields, "data": _plain(data)}, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"

        def write() -> None:
            self._note_key((fields["model"], fields["model_version"]), fields["time"])
            self._last_key = None  # the request path's next record notes its own key again
            if len(line) > self._room:
                self._make_room(len(line))
                if len(line) > self._room:
                    self.dropped += 1
                    return
            self._write(line)
            self._room -= len(line)
            self._offset += len(line)
            self._count += 1

        if self._loop is not None and threading.get_ident() != self._loop_thread:
            # a scoring script runs on a worker thread: the spool belongs to the event loop thread
            done = threading.Event()
            self._loop.call_soon_threadsafe(lambda: (write(), done.set()))
            done.wait(5)
        else:
            write()

    @property
    def spool_bytes(self) -> int:
        return self._sealed_bytes - self._uploaded_bytes + self._offset

    @property
    def collected(self) -> int:
        return self._sealed_count + self._count

    # --- background --------------------------------------------------------------------------------
    def start(self, loop: Any = None) -> DataCollector:
        global _active
        _active = self
        self._loop, self._loop_thread = loop, threading.get_ident() if loop is not None else None
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _seal(self) -> None:
        """Hand the open segment to the writer and open the next. Event loop thread only (the
        request path writes without a lock)."""
        if self._offset == 0:
            return
        segment = self._open
        segment.length, segment.records = self._offset, self._count
        self._open = self.spool.open_segment()
        self._write, self._offset, self._count, self._room, self._last_key = self._open.mm.write, 0, 0, 0, None
        self._sealed_bytes += segment.length
        self._sealed_count += segment.records
        self._sealed.append(segment)

    def _rotate(self) -> None:
        """From the writer thread: have the event loop seal the segment, and wait for it."""
        if self._loop is None or self._loop.is_closed():
            self._seal()
            return
        done = threading.Event()
        try:
            self._loop.call_soon_threadsafe(lambda: (self._seal(), done.set()))
        except RuntimeError:  # the loop has stopped: nobody writes any more
            self._seal()
            return
        if not done.wait(10):
            log.warning("collector: the event loop did not seal the segment in time")

    def _run(self) -> None:
        backoff = self.flush_s
        self._adopt_orphans()
        while True:
            stopping = self._stop.wait(backoff)
            self._rotate()
            try:
                while self._sealed:
                    self._upload(self._sealed[0])
                    segment = self._sealed.pop(0)
                    self._uploaded_bytes += segment.length
                    self.uploaded += segment.records
                    self.spool.recycle(segment)
                backoff = self.flush_s
                if stopping:
                    self.spool.close()
                    shutil.rmtree(self.spool.folder, ignore_errors=True)  # all stored: nothing to adopt
            except Exception as exc:  # noqa: BLE001 - the store is down: keep the spool, try later
                log.warning("collector: store unreachable, %d bytes spooled: %s", self.spool_bytes, str(exc)[:200])
                backoff = min(backoff * 2, 30.0)
                if stopping:
                    return
            if stopping:
                return

    def _store_client(self) -> Any:
        if self._store is None:
            from ..store.artifacts import open_artifact_store

            self._store = open_artifact_store(self.store_url)
        return self._store

    def _upload(self, segment: Segment) -> None:
        if len(segment.keys) == 1:
            # The usual case: one model version, one hour. The bytes go as they are, unparsed (a
            # kernel copy into a local store): the writer thread scarcely touches the GIL.
            (model, version, hour), = segment.keys
            name = f"{object_prefix(self.deployment, model or '_', version or '_', hour * 3600)}/{self.worker}-{segment.seq:08d}.jsonl"
            self._store_client().upload_file(name, segment.path, progress=False, length=segment.length)
        elif segment.keys:
            self._upload_grouped(read_records(segment.path, segment.length), self.worker, segment.seq)

    def _upload_grouped(self, data: bytes, worker: str, seq: int) -> None:
        """Records of several (model, version, hour): one object each."""
        groups: dict[str, list[bytes]] = defaultdict(list)
        for line in data.split(b"\n"):
            m = _HEAD.match(line)
            if m is None:
                continue
            ts, deployment, model, version = float(m[1]), json.loads(m[2]), json.loads(m[3]), json.loads(m[4])
            groups[object_prefix(deployment, model or "_", version or "_", ts)].append(line + b"\n")
        store = self._store_client()
        for prefix, lines in groups.items():
            store.put_bytes(f"{prefix}/{worker}-{seq:08d}.jsonl", b"".join(lines))

    def _adopt_orphans(self) -> None:
        """Upload what workers that died left in their spools (their lock is free)."""
        for folder, fd in dead_spools(self.spool_root, self.spool.folder):
            try:
                for segment in sorted(folder.glob("*.jsonl")):
                    self._upload_grouped(read_records(segment), folder.name, int(segment.stem))
                    segment.unlink()
                shutil.rmtree(folder, ignore_errors=True)
                log.info("collector: recovered the spool of worker %s", folder.name)
            except Exception as exc:  # noqa: BLE001 - try again on the next start
                log.warning("collector: could not recover %s yet: %s", folder.name, str(exc)[:200])
            finally:
                os.close(fd)


# Every record starts with these four fields, so grouping reads a prefix, not the whole line.
_STR = rb'"(?:[^"\\]|\\.)*"'
_HEAD = re.compile(rb'^\{"time":([0-9.e+-]+),"deployment":(' + _STR + rb'),"model":(' + _STR + rb'|null),"model_version":('
                   + _STR + rb'|-?\d+|null),')


_LINE = b'{"time":%.6f%s,"status":%d,"latency_ms":%.3f,"request_id":"%s","correlation_id":%s,"request":%s,"response":%s}\n'


def json_value(body: bytes, valid: bool) -> bytes:
    """A body as one JSON value on one line. ``valid``: the server parsed it as JSON, so it goes as
    it is (its line breaks, whitespace there, made spaces); anything else goes as it is when it
    parses, else as a string."""
    if not valid:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return orjson.dumps(body.decode("utf-8", "replace"))
    return body.replace(b"\n", b" ") if b"\n" in body else body


def json_text(text: str | None) -> bytes:
    """A string as a JSON string (``null`` for None)."""
    return b"null" if text is None else orjson.dumps(text)


def _plain(data: Any) -> Any:
    if hasattr(data, "to_dict"):
        return data.to_dict(orient="records")
    if hasattr(data, "tolist"):
        return data.tolist()
    return data


class Collector:
    """For scoring scripts: ``Collector("inputs").collect(df)`` stores ``df`` with the request's ids.

    Does nothing when the deployment does not collect."""

    def __init__(self, name: str) -> None:
        self.name = name

    def collect(self, data: Any) -> None:
        if _active is not None:
            _active.custom(self.name, data)
