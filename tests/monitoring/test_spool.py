"""The collector's spool in-process: segments are reused after upload, and reuse never brings back
or duplicates a record, across rotations and across a crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from jupyter_mlops.artifacts.stores import LocalArtifactStore
from jupyter_mlops.serving import spool as spool_module
from jupyter_mlops.serving.collector import DataCollector, json_value
from jupyter_mlops.serving.outbox import OUTBOX
from jupyter_mlops.serving.request import Request, Response


def _collector(tmp_path: Path, **kw: object) -> DataCollector:
    return DataCollector("dep", str(tmp_path / "store"), tmp_path / "spool", flush_s=3600, **kw)  # type: ignore[arg-type]


def _record(c: DataCollector, i: int, model: str = "m", version: int = 1) -> None:
    req = Request("POST", "/score", {}, 1 << 20)
    req._body, req.json_valid, req.request_id, req.model = b'{"data":[[%d]]}' % i, True, f"id-{i}", (model, version)
    c.record_request(req, "score", Response.json({"y": [i]}), 0.001)


def _stored(tmp_path: Path) -> tuple[list[int], list[str]]:
    store = LocalArtifactStore(tmp_path / "store")
    names = list(store.list("collected/"))
    ids = [int(json.loads(line)["request_id"][3:]) for n in names for line in store.get_bytes(n).splitlines()]
    return sorted(ids), names


def _flush(c: DataCollector) -> None:
    """What the writer thread does each ``flush_s``, run here in the foreground."""
    c._rotate()
    c._upload_sealed()


def test_segments_are_reused_and_every_record_is_stored_once(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    first = c._open
    for rnd in range(6):
        for i in range(rnd * 100, rnd * 100 + 100):
            _record(c, i)
        _flush(c)
    ids, names = _stored(tmp_path)
    assert ids == list(range(600))
    assert len(names) == len(set(names)) == 6  # one object per segment, never overwritten
    assert c.collected == c.uploaded == 600 and c.spool_bytes == 0
    assert c._open is first or first in c.spool._free  # the first segment went round again
    assert len(list(c.spool.folder.glob("free-*.spool"))) <= spool_module.KEEP_FREE


def test_a_crash_after_reuse_recovers_only_the_new_records(tmp_path: Path) -> None:
    c = _collector(tmp_path)
    first = c._open
    for i in range(400):
        _record(c, i)
        if i in (199, 399):
            _flush(c)  # the second flush reopens the first segment, which held records 0 to 199
    assert c._open is first and c._open.seq == 3
    for i in range(1000, 1003):  # unless reuse zeroed it, records 3 to 199 follow these
        _record(c, i)
    # the worker dies here: its lock is freed, its spool stays as it is
    c.spool.close()
    del c
    survivor = _collector(tmp_path)
    survivor._adopt_orphans()
    ids, _ = _stored(tmp_path)
    assert ids == [*range(400), 1000, 1001, 1002]


def test_records_of_several_hours_or_versions_go_to_their_own_objects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = _collector(tmp_path)
    now = 1_750_000_000.0 - 1_750_000_000.0 % 3600 + 3599.5  # half a second before an hour ends
    clock = iter([now, now + 1, now + 1.5, now + 2])
    monkeypatch.setattr("jupyter_mlops.serving.collector._time", lambda: next(clock))
    _record(c, 1)
    _record(c, 2)
    _record(c, 3, version=2)
    _record(c, 4)
    _flush(c)
    store = LocalArtifactStore(tmp_path / "store")
    by_folder = {n.rsplit("/", 1)[0]: [json.loads(x)["request_id"] for x in store.get_bytes(n).splitlines()]
                 for n in store.list("collected/")}
    hour = time.strftime("%Y/%m/%d/%H", time.gmtime(now))
    next_hour = time.strftime("%Y/%m/%d/%H", time.gmtime(now + 1))
    assert by_folder == {f"collected/dep/m/1/{hour}": ["id-1"], f"collected/dep/m/1/{next_hour}": ["id-2", "id-4"],
                         f"collected/dep/m/2/{next_hour}": ["id-3"]}


@pytest.mark.parametrize("held", [False, True], ids=["one by one", "held with their answers"])
def test_past_the_bound_records_are_dropped_and_counted(tmp_path: Path, held: bool) -> None:
    c = _collector(tmp_path, max_spool_bytes=4096)
    if held:
        c.start()
    try:
        if held:
            _held_run(c, range(100))
        else:
            for i in range(100):
                _record(c, i)
        assert c.spool_bytes <= 4096 and c.dropped > 0
        _flush(c)  # stored: room again
        kept = c.collected
        assert 0 < kept < 100 and c.dropped == 100 - kept and c.uploaded == kept
        _record(c, 500)
        _flush(c)
        assert c.collected == kept + 1
        assert _stored(tmp_path)[0] == [*range(kept), 500]
    finally:
        if held:
            c.close()
            OUTBOX.before_send = None


def test_a_record_that_fills_a_segment_starts_the_next_under_its_own_model(tmp_path: Path) -> None:
    c = _collector(tmp_path, max_spool_bytes=64 * 1024)  # 16 KiB segments
    i = 0
    while c.spool._seq == 1:  # model a until a record no longer fits and opens segment 2
        _record(c, i, model="a")
        i += 1
    for j in range(1000, 1005):
        _record(c, j, model="b")
    _flush(c)
    store = LocalArtifactStore(tmp_path / "store")
    by_model: dict[str, list[int]] = {}
    for name in store.list("collected/"):
        for line in store.get_bytes(name).splitlines():
            by_model.setdefault(name.split("/")[2], []).append(int(json.loads(line)["request_id"][3:]))
    assert sorted(by_model["a"]) == list(range(i)) and sorted(by_model["b"]) == list(range(1000, 1005))


class _Spooled:
    """A transport that notes, at each answer it sends, how many records the spool holds."""

    def __init__(self, c: DataCollector, seen: list[int]) -> None:
        self.c, self.seen = c, seen

    def write(self, data: bytes) -> None:
        self.seen.append(_spooled(self.c))

    def is_closing(self) -> bool:
        return False


def _spooled(c: DataCollector) -> int:
    """Records in the open segment and those sealed, not yet uploaded."""
    return sum(s.mm[: s.mm.tell() if s is c._open else s.length].count(b"\n") for s in [*c._sealed, c._open] if s)


def _held_run(c: DataCollector, ids: range, model: str = "m") -> list[int]:
    """What the coalescer and the HTTP layer do for a run whose answers the outbox holds: each
    request's record, then its answer; the records spooled before each send and before release."""
    seen: list[int] = []
    OUTBOX.hold()
    try:
        for i in ids:
            _record(c, i, model=model)
            OUTBOX.write(_Spooled(c, seen), b"answer")  # type: ignore[arg-type]
            seen.append(-_spooled(c))  # while held: negative, to tell them apart
    finally:
        OUTBOX.release()
    return seen


@pytest.fixture
def started(tmp_path: Path) -> Iterator[DataCollector]:
    c = _collector(tmp_path).start()  # (its writer thread flushes once an hour: _flush does it here)
    yield c
    c.close()
    OUTBOX.before_send = None


def test_records_of_held_answers_are_spooled_together_before_the_answers_go(started: DataCollector,
                                                                           tmp_path: Path) -> None:
    """Spooled one by one between the answers, each record's code ran cold (outbox.py); held, they
    wait with their answers and are spooled at once, still before any of them is sent."""
    _record(started, 0)  # not held: at once
    assert _spooled(started) == 1
    seen = _held_run(started, range(1, 21))
    assert seen == [-1] * 20 + [21] * 20  # none spooled while held; all of them before the first answer
    _record(started, 21)
    _flush(started)
    assert _stored(tmp_path)[0] == list(range(22)) and started.collected == 22


def test_held_records_that_overflow_a_segment_or_cross_an_hour_go_where_they_belong(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = _collector(tmp_path, max_spool_bytes=256 * 1024).start()  # 64 KiB segments
    try:
        _record(c, 5000)
        size = c._offset
        while c._offset < c.spool.segment_bytes - 100 * size:  # room for 100 more, not 200
            _record(c, 5000 + _spooled(c))
        before = _spooled(c)
        assert _held_run(c, range(200), model="b")[-1] == before + 200  # all spooled before the answers
        assert c.spool._seq == 2 and c.dropped == 0  # the rest went into the next segment
        now = 1_750_000_000.0 - 1_750_000_000.0 % 3600 + 3599.99
        clock = iter(now + i * 0.001 for i in range(100))
        monkeypatch.setattr("jupyter_mlops.serving.collector._time", lambda: next(clock))
        _held_run(c, range(1000, 1020), model="c")  # the hour ends after the tenth
        _flush(c)
    finally:
        c.close()
        OUTBOX.before_send = None
    store = LocalArtifactStore(tmp_path / "store")
    by_folder: dict[str, list[int]] = {}
    for name in store.list("collected/"):
        for line in store.get_bytes(name).splitlines():
            by_folder.setdefault(name.split("/", 3)[2] + name.rsplit("/", 2)[-2], []).append(
                int(json.loads(line)["request_id"][3:]))
    hour, next_hour = (time.strftime("%H", time.gmtime(t)) for t in (now, now + 1))
    assert sorted(by_folder["b" + time.strftime("%H")]) == list(range(200))
    assert by_folder["c" + hour] == list(range(1000, 1010)) and by_folder["c" + next_hour] == list(range(1010, 1020))


@pytest.mark.parametrize(("body", "valid", "stored"), [
    (b'{"data": [[1, 2]]}', True, {"data": [[1, 2]]}),
    (b'{\n  "data": [[1,\n 2]]\n}\n', True, {"data": [[1, 2]]}),  # pretty-printed: still one line
    (b'{"data": [[1, 2]]', False, '{"data": [[1, 2]]'),  # broken JSON: kept as a string
    (b"a,b\n1,2\n", False, "a,b\n1,2\n"),  # CSV
    (b'\xff\xfe{"x": 1}', False, '\ufffd\ufffd{"x": 1}'),
    (b"", False, ""),
])
def test_bodies_become_one_json_value_on_one_line(body: bytes, valid: bool, stored: object) -> None:
    value = json_value(body, valid)
    assert b"\n" not in value and orjson.loads(value) == stored


def test_records_are_counted_in_place_without_copying_the_segment(tmp_path: Path) -> None:
    """Counting once copied the sealed segment (``mm[:length].count``), 12 MB a second at load,
    under the GIL: the event loop stalled for the copy. Counted in place, the peak is a chunk."""
    import tracemalloc

    c = _collector(tmp_path)
    segment = c._open
    assert segment is not None
    line = b'{"x":"' + b"a" * 1000 + b'"}\n'
    for _ in range(8000):  # about 8 MB, across chunk boundaries at line ends and mid-line
        segment.mm.write(line)
    segment.mm.write(b'{"x":"\n\n"}\n')
    segment.length = segment.mm.tell()
    tracemalloc.start()
    try:
        assert segment.count_records() == 8003
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * 1024 * 1024, peak
    segment.close()  # no view of the mapping is left behind
    empty = c.spool.open_segment()
    assert empty.count_records() == 0


_FILL = """
import sys
from pathlib import Path
from jupyter_mlops.serving.collector import DataCollector
from jupyter_mlops.serving.request import Request, Response
c = DataCollector("dep", sys.argv[2], Path(sys.argv[1]), flush_s=3600, max_spool_bytes=16 << 20)
for i in range(3000):  # about 1.2 MB of records
    req = Request("POST", "/score", {}, 1 << 20)
    req._body, req.json_valid, req.request_id, req.model = b'{"data":[[%d]]}' % i, True, f"id-{i}", ("m", 1)
    c.record_request(req, "score", Response.json({"y": [i]}), 0.001)
print(c.dropped)
"""


def test_a_full_filesystem_under_the_spool_drops_records_and_counts_them_without_killing_the_worker(
        tmp_path: Path) -> None:
    """Segments were sparse files: on a full filesystem, a record's write into a page with no block
    behind it raised SIGBUS and killed the worker (and its restarts, one by one)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(tiny)], check=True)
    try:
        run = subprocess.run([sys.executable, "-c", _FILL, str(tiny), str(tmp_path / "store")],
                             capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["umount", str(tiny)], check=True)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])  # -7 (SIGBUS) before
    assert run.stdout.split() == ["3000"]  # no 4 MiB segment fits in 256 KiB: every record dropped, counted
    assert "no room for a spool segment" in run.stderr and run.stderr.count("no room") == 1  # said once
