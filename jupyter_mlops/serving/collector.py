"""Inference data collection: each request's inputs, outputs, latency and status, kept safe.

On the request path a record is one join of precomputed pieces and one copy into this worker's spool (see
spool.py): memory-mapped segments, so the record is in the kernel's page cache before the response
is sent and a SIGKILL of the server loses none of it, with no system call per request. No network,
no waiting. The records of a run whose answers the outbox holds (outbox.py) are spooled together,
just before those answers go. A writer thread has the open segment sealed every ``flush_s`` seconds
and uploads each sealed segment to the artifact store as JSON Lines, one object per (model, version,
hour):

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
from pathlib import Path
from typing import Any

import orjson

from ..artifacts.stores import open_artifact_store
from .outbox import OUTBOX
from .records import REQUEST_PARTS, custom_record, object_name, object_prefix, one_line, request_head
from .spool import SEGMENT_BYTES, Segment, Spool, dead_spools, read_records

log = logging.getLogger("jupyter_mlops.serving.collector")

current_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("mlops_request", default=None)
_active: DataCollector | None = None  # this worker's collector, for the Collector SDK
_time = time.time
_dumps = orjson.dumps
_UNSET = object()


class DataCollector:
    def __init__(self, deployment: str, store_url: str, spool_root: Path, sample_rate: float = 1.0,
                 flush_s: float = 1.0, max_spool_bytes: int = 256 * 1024 * 1024,
                 default_model: tuple[Any, Any] = (None, None)) -> None:
        self.deployment = deployment
        self.default_model = default_model  # for records of requests no model answered (script-only)
        self.store_url = store_url
        self.sample_rate = sample_rate
        self.sample_all = sample_rate >= 1.0
        self.flush_s = flush_s
        self.max_spool_bytes = max_spool_bytes
        self.worker = f"{os.getpid()}{secrets.token_hex(3)}"
        self.spool_root = spool_root
        self.spool = Spool(spool_root / self.worker, min(SEGMENT_BYTES, max(4096, max_spool_bytes // 4)))
        # The open segment, and its mmap's write (or _drop while the spool is at its bound, or its
        # filesystem full). Every segment holds one hour: the first record past the hour seals it.
        self._open: Segment | None = None
        self._write: Any = self._drop
        self._full_until = 0.0  # while the spool's filesystem has no room for a segment: when to try again
        self._hour = 0
        self._hour_end = 0.0
        # The last (model, route, prefix), reset with each segment so that the segment notes its models
        self._last: tuple[Any, Any, bytes] = (_UNSET, _UNSET, b"")
        self._prefixes: dict[tuple[Any, str], bytes] = {}
        self._sealed: list[Segment] = []  # waiting for upload, oldest first
        self._deferred: list[tuple[float, Any, str, Any, float]] = []  # records whose answers the outbox holds
        # Counters each written by one thread only (sealed: the event loop's; the rest: the writer's)
        self._sealed_bytes = 0  # ever sealed
        self._uploaded_bytes = 0
        self.collected = 0  # records sealed (counted by the writer: nothing counts on the request path)
        self.uploaded = 0
        self.dropped = 0
        self._loop: Any = None  # the event loop whose thread owns the open segment
        self._loop_thread: int | None = None
        self._store: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-collector", daemon=True)
        self._open_next()

    # --- request path ------------------------------------------------------------------------------
    def sampled(self) -> bool:
        return self.sample_all or random.random() < self.sample_rate

    def record_request(self, req: Any, route: str, response: Any, latency_s: float) -> None:
        """Spool the record of one answered request (a ``Request`` and its ``Response``), before the
        client hears back. Event loop thread only, without a lock. While the outbox holds a run's
        answers (outbox.py), the record waits with them and all are spooled at once, before they go."""
        if OUTBOX.held is not None:
            self._deferred.append((_time(), req, route, response, latency_s))
        else:
            self._record(_time(), req, route, response, latency_s)

    def _record(self, ts: float, req: Any, route: str, response: Any, latency_s: float) -> None:
        if ts >= self._hour_end:
            self._next_hour(ts)
        line = self._line(ts, req, route, response, latency_s)
        try:
            self._write(line)
        except ValueError:  # the open segment is full
            self._overflow(line, req.model or self.default_model)

    def spool_deferred(self) -> None:
        """Spool the records deferred while the outbox held their answers: formatted one after the
        other, the code and its data warm (formatted between two answers, each came after a send
        and cost several times a second record made right after it), and copied in at once. The
        outbox calls this before it sends the answers."""
        deferred, self._deferred = self._deferred, []
        if not deferred:
            return
        if self._open is not None and deferred[-1][0] < self._hour_end:
            line = self._line
            data = b"".join([line(*d) for d in deferred])
            try:
                self._write(data)
                return
            except ValueError:  # the open segment is full: one by one, the rest into the next
                pass
        for d in deferred:  # (or an hour ends among them, or the spool is at its bound)
            self._record(*d)

    def _line(self, ts: float, req: Any, route: str, response: Any, latency_s: float) -> bytes:
        """One request's record. This runs on every request, and in the server each operation here
        costs several times what it costs in a micro-benchmark, so: precomputed pieces and the
        values joined (orjson formats the floats, at a quarter of bytes ``%f``'s cost; a join, at
        half a bytes format's), bodies the server parsed go as they are, and no counters: a full
        segment shows as mmap.write's ValueError."""
        if req.model is self._last[0] and route is self._last[1]:
            entry = self._last[2]
        else:
            entry = self._entry(req.model, route)
        body = req._body or b""
        valid = req.json_valid
        if not valid or 10 in body:  # a line break; an int is a memchr, a third of b"\n"'s cost
            body = req.record_body or json_value(body, valid)
        answer = response.body
        if response.content_type != "application/json":
            answer = response.record_body or json_value(answer, False)
        headers = req.headers
        correlation = headers.get("x-ms-client-request-id")
        return _join((_TIME, _dumps(ts), entry, _STATUS[response.status], _LATENCY, _dumps(latency_s * 1000.0),
                      _REQUEST_ID,
                      req.request_id.encode() if "x-request-id" not in headers else _dumps(req.request_id)[1:-1],
                      _CORRELATION, b"null" if correlation is None else _dumps(correlation),
                      _REQUEST, body, _RESPONSE, answer, _END))

    def _entry(self, model: tuple[Any, Any] | None, route: str) -> bytes:
        """When (model, route) changes or a segment opens: the record's constant middle, and the
        segment notes the (model, version) it holds. Records start with time, deployment, model,
        model_version, so grouping a segment of several models reads a prefix."""
        key = model or self.default_model
        prefix = self._prefixes.get((key, route))
        if prefix is None:
            prefix = self._prefixes[(key, route)] = request_head(self.deployment, key[0], key[1], route)
        self._note(key)
        self._last = (model, route, prefix)
        return prefix

    def _note(self, key: tuple[Any, Any]) -> None:
        if self._open is not None:
            self._open.keys.add((key[0], key[1], self._hour))

    def _next_hour(self, ts: float) -> None:
        self._seal()
        self._hour = int(ts // 3600)
        self._hour_end = (self._hour + 1) * 3600.0
        self._last = (_UNSET, _UNSET, b"")
        if self._open is not None:
            self._open.keys.clear()

    def _overflow(self, line: bytes, key: tuple[Any, Any]) -> None:
        self._seal()
        self._note(key)  # in the next segment
        try:
            self._write(line)
        except ValueError:  # longer than a segment
            self.dropped += 1

    def _drop(self, line: bytes) -> None:
        """The write while the spool is at its bound: a segment opens as soon as uploads make room."""
        if self._open_next() and self._open is not None:
            self._open.keys.add(None)  # type: ignore[arg-type]  # not noted whose record: the upload groups by reading
            self._write(line)
        else:
            self.dropped += 1

    def custom(self, name: str, data: Any) -> None:
        req = current_request.get() or {}
        key = (req["model"], req.get("model_version")) if req.get("model") else self.default_model

        def write() -> None:
            ts = _time()
            if ts >= self._hour_end:
                self._next_hour(ts)
            self._note(key)
            line = custom_record(ts, self.deployment, key[0], key[1], name, req.get("request_id"),
                                 req.get("correlation_id"), _plain(data))
            try:
                self._write(line)
            except ValueError:
                self._overflow(line, key)

        if self._loop is not None and threading.get_ident() != self._loop_thread:
            # a scoring script runs on a worker thread: the spool belongs to the event loop thread
            done = threading.Event()
            def write_then_signal() -> None:
                write()
                done.set()

            self._loop.call_soon_threadsafe(write_then_signal)
            done.wait(5)
        else:
            write()

    @property
    def _offset(self) -> int:
        """Bytes in the open segment (its mmap's position: one counter fewer on the request path)."""
        return self._open.mm.tell() if self._open is not None else 0

    @property
    def spool_bytes(self) -> int:
        return self._sealed_bytes - self._uploaded_bytes + self._offset

    # --- background --------------------------------------------------------------------------------
    def start(self, loop: Any = None) -> DataCollector:
        global _active
        _active = self
        OUTBOX.before_send = self.spool_deferred
        self._loop, self._loop_thread = loop, threading.get_ident() if loop is not None else None
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _seal_then(self, done: threading.Event) -> None:
        self._seal()
        done.set()

    def _seal(self) -> None:
        """Hand the open segment to the writer and open the next. Event loop thread only (the
        request path writes without a lock)."""
        segment = self._open
        if segment is None:
            self._open_next()  # at the bound: uploads may have made room since
            return
        segment.length = segment.mm.tell()
        if segment.length == 0:
            return
        self._open, self._write = None, self._drop
        self._sealed_bytes += segment.length
        self._sealed.append(segment)
        self._open_next()

    def _open_next(self) -> bool:
        """Open a segment if the spool's bound leaves room for one and its filesystem does (else
        records are dropped and counted; a full filesystem is tried again a second later)."""
        if self._sealed_bytes - self._uploaded_bytes + self.spool.segment_bytes > self.max_spool_bytes:
            return False
        if self._full_until and _time() < self._full_until:
            return False
        try:
            self._open = self.spool.open_segment()
        except OSError as exc:
            if not self._full_until:
                log.warning("collector: no room for a spool segment in %s (%s); records are dropped and "
                            "counted until there is", self.spool.folder, exc)
            self._full_until = _time() + 1.0
            return False
        self._full_until = 0.0
        self._write = self._open.mm.write
        self._last = (_UNSET, _UNSET, b"")  # each segment notes its own (model, version)s
        return True

    def _rotate(self) -> None:
        """From the writer thread: have the event loop seal the segment, and wait for it."""
        if self._loop is None or self._loop.is_closed():
            self._seal()
            return
        done = threading.Event()
        try:
            self._loop.call_soon_threadsafe(self._seal_then, done)
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
                self._upload_sealed()
                backoff = self.flush_s
                if stopping:
                    self.spool.close()
                    shutil.rmtree(self.spool.folder, ignore_errors=True)  # all stored: nothing to adopt
            except Exception as exc:
                log.warning("collector: store unreachable, %d bytes spooled: %s", self.spool_bytes, str(exc)[:200])
                backoff = min(backoff * 2, 30.0)
                if stopping:
                    return
            if stopping:
                return

    def _upload_sealed(self) -> None:
        for segment in list(self._sealed):
            if segment.records < 0:  # counted here, once, rather than on the request path
                segment.records = segment.count_records()
                self.collected += segment.records
        while self._sealed:
            segment = self._sealed[0]
            self._upload(segment)
            self._sealed.pop(0)
            self._uploaded_bytes += segment.length
            self.uploaded += segment.records
            self.spool.recycle(segment)

    def _store_client(self) -> Any:
        if self._store is None:
            self._store = open_artifact_store(self.store_url)
        return self._store

    def _upload(self, segment: Segment) -> None:
        if len(segment.keys) == 1 and None not in segment.keys:
            # The usual case: one model version (a segment holds one hour). The bytes go as they
            # are, unparsed (a kernel copy into a local store): the writer scarcely takes the GIL.
            (model, version, hour), = segment.keys
            name = object_name(self.deployment, model, version, hour * 3600, self.worker, segment.seq)
            self._store_client().upload_file(name, segment.path, progress=False, length=segment.length)
        else:
            self._upload_grouped(read_records(segment.path, segment.length), self.worker, segment.seq)

    def _upload_grouped(self, data: bytes, worker: str, seq: int) -> None:
        """Records of several (model, version, hour): one object each."""
        groups: dict[str, list[bytes]] = defaultdict(list)
        for line in data.split(b"\n"):
            m = _HEAD.match(line)
            if m is None:
                continue
            ts, deployment, model, version = float(m[1]), json.loads(m[2]), json.loads(m[3]), json.loads(m[4])
            groups[object_prefix(deployment, model, version, ts)].append(line + b"\n")
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
            except Exception as exc:
                log.warning("collector: could not recover %s yet: %s", folder.name, str(exc)[:200])
            finally:
                os.close(fd)


# Every record starts with these four fields, so grouping reads a prefix, not the whole line.
_STR = rb'"(?:[^"\\]|\\.)*"'
_HEAD = re.compile(rb'^\{"time":([0-9.e+-]+),"deployment":(' + _STR + rb'),"model":(' + _STR
                   + rb'|null),"model_version":(' + _STR + rb'|-?\d+|null),')


_TIME, _LATENCY, _REQUEST_ID, _CORRELATION, _REQUEST, _RESPONSE, _END = REQUEST_PARTS
_STATUS = [b"%d" % s for s in range(600)]  # an HTTP status's digits, by status
_join = b"".join


def json_value(body: bytes, valid: bool) -> bytes:
    """A body as one JSON value on one line. ``valid``: the server parsed it as JSON, so it goes as
    it is (its line breaks, whitespace there, made spaces); anything else goes as it is when it
    parses, else as a string."""
    if not valid:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return orjson.dumps(body.decode("utf-8", "replace"))
    return one_line(body)


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
