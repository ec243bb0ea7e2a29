"""Inference data collection: each request's inputs, outputs, latency and status, kept safe.

On the request path a record is a copy into this worker's spool segment, a memory-mapped file: the
bytes are in the kernel's page cache before the response is sent, so a SIGKILL of the server loses
none of them, and no system call is made per request (an ``os.write`` per record cost ~10% of
throughput). No network, no waiting. A writer
thread rotates the spool every ``flush_s`` seconds and uploads each closed segment to the artifact
store as JSON Lines, one object per (model, version, hour):

    collected/<deployment>/<model>/<version>/<yyyy>/<mm>/<dd>/<hh>/<worker>-<seq>.jsonl

Object names are fixed by the segment, so re-uploading after a crash overwrites rather than
duplicates. A segment is deleted only once every object of it is stored; while the store is down
segments wait (with backoff) and are sent when it returns. A worker that starts adopts the spool of
workers that died. Past ``max_spool_bytes`` new records are dropped and counted, never blocking.

Scoring scripts add their own records with :class:`Collector`, correlated with the request.
"""

from __future__ import annotations

import contextvars
import fcntl
import json
import logging
import mmap
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

log = logging.getLogger("jupyter_mlops.serving.collector")
SEGMENT_BYTES = 32 * 1024 * 1024

current_request: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("mlops_request", default=None)
_active: DataCollector | None = None  # this worker's collector, for the Collector SDK


def object_prefix(deployment: str, model: str, version: Any, ts: float) -> str:
    t = datetime.fromtimestamp(ts, timezone.utc)
    return f"collected/{deployment}/{model}/{version}/{t:%Y/%m/%d/%H}"


class DataCollector:
    def __init__(self, deployment: str, store_url: str, spool_root: Path, sample_rate: float = 1.0,
                 flush_s: float = 1.0, max_spool_bytes: int = 256 * 1024 * 1024) -> None:
        self.deployment = deployment
        self.store_url = store_url
        self.sample_rate = sample_rate
        self.flush_s = flush_s
        self.max_spool_bytes = max_spool_bytes
        self.worker = f"{os.getpid()}{secrets.token_hex(3)}"
        self.dir = spool_root / self.worker
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours while we live
        self.spool_root = spool_root
        self.seq = 0
        self._mm, self._fd, self._offset = self._open_segment()
        self._keys: set[tuple[Any, Any, int]] = set()  # (model, version, hour) of the open segment
        self._last_key: Any = None
        self._hour_start = 0.0
        self._count = 0  # records in the open segment
        self._sealed: dict[str, tuple[set[tuple[Any, Any, int]], int, int]] = {}  # closed -> keys, bytes, records
        self._sealed_bytes = 0
        self._sealed_count = 0  # records ever sealed
        self._loop: Any = None  # the event loop whose thread owns the open segment
        self._loop_thread: int | None = None
        self.dropped = 0
        self.uploaded = 0
        self._store: Any = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlops-collector", daemon=True)

    # --- request path ------------------------------------------------------------------------------
    def sampled(self) -> bool:
        return self.sample_rate >= 1.0 or random.random() < self.sample_rate

    def request_prefix(self, model: Any, version: Any, route: str) -> bytes:
        """The constant middle of a request record for one (model, version, route): computed once.

        Records start with time, deployment, model, model_version (the grouping key). Bytes
        formatting into precomputed pieces, not a dict through a JSON encoder: the request path
        pays for every microsecond."""
        head = orjson.dumps({"deployment": self.deployment, "model": model, "model_version": version,
                             "collector": "request", "route": route})
        return b"," + head[1:-1]

    def record(self, prefix: bytes, key: tuple[Any, Any], ts: float, status: int, latency_s: float,
               request_id: str, correlation_id: str | None, request_body: bytes, response_body: bytes) -> None:
        """Spool one request record; bodies go in as JSON when they are JSON. Event loop thread only."""
        if request_body[:1] not in _OPEN or request_body[-1:] not in _CLOSE:
            request_body = _json_or_string(request_body)
        if response_body[:1] not in _OPEN or response_body[-1:] not in _CLOSE:
            response_body = _json_or_string(response_body)
        line = _LINE % (ts, prefix, status, latency_s * 1000, orjson.dumps(request_id),
                        b"null" if correlation_id is None else orjson.dumps(correlation_id), request_body, response_body)
        if key is not self._last_key or not self._hour_start <= ts < self._hour_start + 3600:
            self._note_key(key, ts)
        self._append(line)

    def _note_key(self, key: tuple[Any, Any], ts: float) -> None:
        self._last_key, self._hour_start = key, ts - ts % 3600
        self._keys.add((*key, int(ts) // 3600))

    def custom(self, name: str, data: Any) -> None:
        req = current_request.get() or {}
        fields = {"time": time.time(), "deployment": self.deployment, "model": req.get("model"),
                  "model_version": req.get("model_version"), "collector": name,
                  "request_id": req.get("request_id"), "correlation_id": req.get("correlation_id")}
        line = orjson.dumps({**fields, "data": _plain(data)}, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n"
        if self._loop is not None and threading.get_ident() != self._loop_thread:
            # a scoring script runs on a worker thread: the spool belongs to the event loop thread
            done = threading.Event()

            def write() -> None:
                self._note_key((fields["model"], fields["model_version"]), fields["time"])
                self._append(line)
                done.set()

            self._loop.call_soon_threadsafe(write)
            done.wait(5)
            return
        self._note_key((fields["model"], fields["model_version"]), fields["time"])
        self._append(line)

    def _append(self, line: bytes) -> None:
        n = len(line)
        if self._offset + n > SEGMENT_BYTES:
            self._seal()
        if self._sealed_bytes + self._offset + n > self.max_spool_bytes:
            self.dropped += 1
            return
        self._mm.write(line)
        self._offset += n
        self._count += 1

    @property
    def spool_bytes(self) -> int:
        return self._sealed_bytes + self._offset

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

    def _open_segment(self) -> tuple[mmap.mmap, int, int]:
        self.seq += 1
        fd = os.open(self.dir / f"{self.seq:08d}.jsonl", os.O_CREAT | os.O_RDWR, 0o600)
        os.ftruncate(fd, SEGMENT_BYTES)  # sparse: disk is used only as records arrive
        return mmap.mmap(fd, SEGMENT_BYTES), fd, 0

    def _seal(self) -> None:
        """Close the open segment at its written length and start the next. Event loop thread only
        (the request path writes without a lock)."""
        mm, fd, length, name, keys, count = self._mm, self._fd, self._offset, f"{self.seq:08d}.jsonl", self._keys, self._count
        (self._mm, self._fd, self._offset), self._keys, self._count = self._open_segment(), set(), 0
        self._last_key = None
        mm.close()
        os.ftruncate(fd, length)
        os.close(fd)
        self._sealed[name] = (keys, length, count)
        self._sealed_bytes += length
        self._sealed_count += count

    def _rotate(self) -> None:
        """From the writer thread: have the event loop seal the segment, and wait for it."""
        if self._loop is None or self._loop.is_closed():
            self._seal()
            return
        done = threading.Event()

        def seal() -> None:
            self._seal()
            done.set()

        try:
            self._loop.call_soon_threadsafe(seal)
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
                self._upload_dir(self.dir, self.worker, keep_active=True)
                backoff = self.flush_s
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

    def _upload_dir(self, folder: Path, worker: str, keep_active: bool) -> None:
        segments = sorted(folder.glob("*.jsonl"))
        if keep_active:
            segments = [s for s in segments if s.name != f"{self.seq:08d}.jsonl"]
        for segment in segments:
            self._upload_segment(segment, worker)

    def _upload_segment(self, segment: Path, worker: str) -> None:
        sealed = self._sealed.get(segment.name) if worker == self.worker else None
        if sealed is not None and len(sealed[0]) <= 1:
            # The usual case: one model version, one hour. The file goes as it is, streamed, unparsed:
            # the writer thread scarcely touches the GIL that the requests need.
            keys, size, count = sealed
            if keys:
                (model, version, hour), = keys
                name = f"{object_prefix(self.deployment, model or '_', version or '_', hour * 3600)}/{worker}-{segment.stem}.jsonl"
                self._store_client().move_file(name, segment)  # a rename into a local store
            self._done(segment, worker, size, count)
            return
        data = segment.read_bytes().split(b"\0", 1)[0]  # a crashed worker's segment is zero-padded
        groups: dict[str, list[bytes]] = defaultdict(list)
        for line in data.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                continue  # a line cut by a crash mid-write was never acknowledged
            m = _HEAD.match(line)
            if m is None:
                continue
            ts, deployment, model, version = float(m[1]), json.loads(m[2]), json.loads(m[3]), json.loads(m[4])
            groups[object_prefix(deployment, model or "_", version or "_", ts)].append(line)
        store = self._store_client()
        for prefix, lines in groups.items():
            store.put_bytes(f"{prefix}/{worker}-{segment.stem}.jsonl", b"".join(lines))
        self._done(segment, worker, len(data), sum(len(v) for v in groups.values()))

    def _done(self, segment: Path, worker: str, size: int, records: int) -> None:
        segment.unlink(missing_ok=True)
        self._sealed.pop(segment.name, None)
        if worker == self.worker:
            self._sealed_bytes = max(0, self._sealed_bytes - size)
            self.uploaded += records

    def _adopt_orphans(self) -> None:
        """Upload what workers that died left in their spools (their lock is free)."""
        for folder in sorted(p for p in self.spool_root.iterdir() if p.is_dir() and p != self.dir):
            try:
                fd = os.open(folder / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue  # alive
            try:
                for segment in sorted(folder.glob("*.jsonl")):
                    self._upload_segment(segment, folder.name)
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


_OPEN, _CLOSE = (b"{", b"["), (b"}", b"]")
_LINE = b'{"time":%.6f%s,"status":%d,"latency_ms":%.3f,"request_id":%s,"correlation_id":%s,"request":%s,"response":%s}\n'


def _json_or_string(body: bytes) -> bytes:
    if body[:1] in (b"{", b"[") and body[-1:] in (b"}", b"]"):
        return body  # compact JSON as clients send it (a parse would cost more than it proves)
    stripped = body.strip()
    if stripped[:1] in (b"{", b"[") and stripped[-1:] in (b"}", b"]") and b"\n" not in stripped:
        return stripped
    return orjson.dumps(body.decode("utf-8", "replace"))


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
