"""Registry benchmark (run by hand): `.venv/bin/python bench/registry.py [--big 100000]`.

Prints registrations/s for 1,000 versions with 3 tags each, and the median latency of
list_models(tags=...) and get_model(name) at 1,000 and at --big versions, each next to a
baseline measured in the same run (raw sqlite3 doing the same insert or query), as a ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_mlops.registry.models import ModelRegistry
from jupyter_mlops.workspace import Workspace


def median_ms(fn, repeat: int = 200) -> float:  # type: ignore[no-untyped-def]
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def raw_baseline(root: Path, model: Path, n: int) -> float:
    """The same work with no library: one sqlite3 transaction and one file copy per version."""
    db = sqlite3.connect(root / "raw.sqlite", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, name TEXT, version INT, sha TEXT, UNIQUE(name, version))")
    db.execute("CREATE TABLE t (obj INT, k TEXT, v TEXT, PRIMARY KEY (obj, k))")
    (root / "raw").mkdir()
    t = time.perf_counter()
    for i in range(n):
        shutil.copyfile(model, root / "raw" / f"{i}")
        db.execute("BEGIN IMMEDIATE")
        cur = db.execute("INSERT INTO m (name, version, sha) VALUES ('raw', ?, 'x')", (i + 1,))
        db.executemany("INSERT INTO t VALUES (?, ?, ?)", [(cur.lastrowid, f"k{j}", "v") for j in range(3)])
        db.execute("COMMIT")
    return n / (time.perf_counter() - t)


def fill(reg: ModelRegistry, model: Path, upto: int, names: int) -> None:
    """Grow the registry to ``upto`` versions through the real register() path."""
    with reg.ws.metadata.read() as conn:
        have = conn.exec_driver_sql("SELECT count(*) FROM models").scalar_one()
    for i in range(have, upto):
        reg.register(model, f"model-{i % names}", tags={"stage": ("dev", "prod")[i % 2], "team": f"t{i % 7}", "run": str(i)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    model = root / "model.bin"
    model.write_bytes(os.urandom(4096))
    reg = ModelRegistry(Workspace.embedded(root / "ws"))
    reg.ws.metadata._ensure_schema()

    n = 1000
    t = time.perf_counter()
    fill(reg, model, n, names=100)
    ours = n / (time.perf_counter() - t)
    base = raw_baseline(root, model, n)
    rows = [("registrations/s (1,000 x 3 tags)", f"{ours:,.0f}", f"{base:,.0f}", f"{ours / base:.2f}x")]

    for size in (1000, args.big):
        fill(reg, model, size, names=100)
        raw = sqlite3.connect(root / "ws" / "mlops.sqlite")
        q_list = median_ms(lambda: reg.list(tags=["stage=prod", "team=t3"], limit=20))
        b_list = median_ms(lambda: raw.execute(
            "SELECT m.* FROM models m WHERE EXISTS (SELECT 1 FROM tags t WHERE t.kind='model' AND t.obj_id=m.id "
            "AND t.key='stage' AND t.value='prod') AND EXISTS (SELECT 1 FROM tags t WHERE t.kind='model' "
            "AND t.obj_id=m.id AND t.key='team' AND t.value='t3') ORDER BY m.id DESC LIMIT 21").fetchall())
        q_get = median_ms(lambda: reg.get("model-3"))
        b_get = median_ms(lambda: raw.execute(
            "SELECT * FROM models WHERE name='model-3' ORDER BY version DESC LIMIT 1").fetchall())
        rows.append((f"list_models(tags=2 filters) ms @ {size:,}", f"{q_list:.2f}", f"{b_list:.3f}", f"{q_list / b_list:.1f}x"))
        rows.append((f"get_model(name) ms @ {size:,}", f"{q_get:.2f}", f"{b_get:.3f}", f"{q_get / b_get:.1f}x"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'ours':>10}  {'raw sqlite3':>12}  {'ratio':>7}")
    for name, a, b, r in rows:
        print(f"{name:<{width}}  {a:>10}  {b:>12}  {r:>7}")
    shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
