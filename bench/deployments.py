"""Deployment listing benchmark (run by hand): `.venv/bin/python bench/deployments.py [--count 200]`.

Makes --count real deployment records (kubernetes target, dry run: manifests written, nothing
started), then prints the median time of list_deployments() (records only, one page), of the same
with refresh=True (each target asked for its state), and of the old shape (one get() per deployment),
each next to a baseline measured in the same run: raw sqlite3 reading the same rows.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from registry import median_ms  # bench/registry.py: one timing helper for the benches

import jupyter_mlops as mlops
from jupyter_mlops.store.schema import images
from jupyter_mlops.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from modelfactory import onnx_logreg

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ws = Workspace.embedded(root / "ws", source="bench")
        model = mlops.register_model(onnx_logreg(root / "lr.onnx"), "lr", workspace=ws)
        img = mlops.build_image("svc", model, docker=False, workspace=ws)
        with ws.metadata.begin() as conn:  # a cluster runs what a registry holds: the tag a build would give
            conn.execute(images.update().where(images.c.id == img.id).values(docker_tag="jupyter-mlops/svc:1"))
        print(f"making {args.count} deployments (kubernetes, dry run) ...", file=sys.stderr)
        for i in range(args.count):
            mlops.deploy(f"svc-{i:04d}", "svc:1", target="kubernetes", dry_run=True, tags={"team": f"t{i % 5}"},
                         output_dir=str(root / "manifests"), workspace=ws)
        db = sqlite3.connect(root / "ws" / "mlops.sqlite")
        raw = median_ms(lambda: db.execute("SELECT * FROM deployments ORDER BY id DESC LIMIT 201").fetchall(),
                        args.repeat)
        rows = [
            ("list_deployments(limit=count)", lambda: mlops.list_deployments(limit=args.count, workspace=ws)),
            ("list_deployments(limit=count, refresh=True)",
             lambda: mlops.list_deployments(limit=args.count, refresh=True, workspace=ws)),
            ("one get() per deployment (the old list)",
             lambda: [mlops.get_deployment(f"svc-{i:04d}", workspace=ws) for i in range(args.count)]),
        ]
        print(f"\n{args.count} deployments, median of {args.repeat}; baseline: raw sqlite3 SELECT of the rows "
              f"{raw:.2f} ms\n")
        print(f"{'what':<48} {'ms':>10} {'x baseline':>12}")
        for label, fn in rows:
            ms = median_ms(fn, args.repeat)
            print(f"{label:<48} {ms:>10.1f} {ms / raw:>12.0f}")
        assert len(mlops.list_deployments(limit=args.count, workspace=ws)) == args.count


if __name__ == "__main__":
    main()
