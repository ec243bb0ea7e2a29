"""Endpoints from a notebook (magics) and from CI (the CLI): the same verbs as the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

import jupyter_mlops as mlops

from ..modelfactory import onnx_logreg
from ..test_cli import cli
from .conftest import ROW


def _error(ip: Any, line: str) -> str:
    result = ip.run_cell(f"%{line}")
    return str(result.error_in_exec)


def test_endpoint_magics_deploy_route_and_show(ip: Any, tmp_path: Path, nginx: str,
                                               capsys: Any) -> None:
    mlops.register_model(onnx_logreg(tmp_path / "lr.onnx"), "lr")
    mlops.build_image("svc", "lr:1", docker=False, progress=False)
    ip.run_line_magic("create_endpoint", "web --target process --auth token -o ep")
    try:
        ip.run_line_magic("deploy", "blue --image svc:1 --endpoint web")
        assert _error(ip, "traffic web blue=90") == "Traffic of endpoint 'web' must sum to 100; blue 90% sums to 90."
        assert _error(ip, "traffic web blue") == "Invalid share 'blue': write DEPLOYMENT=PERCENT, e.g. blue=90."
        ip.run_line_magic("traffic", "web blue=100 -o ep")
        ep = ip.user_ns["ep"]
        assert ep.traffic == {"blue": 100} and ep.auth == "token"
        assert ep.score(ROW)["label"] in ([0], [1])
        capsys.readouterr()
        ip.run_line_magic("endpoint", "web")
        shown = capsys.readouterr().out
        assert "blue: 100% live, 0% mirrored, image svc:1, healthy" in shown
        assert _error(ip, "rollout web") == "rollout needs --image (or --resume, --abort, --follow)."
        assert _error(ip, "rollout web --abort") == "Endpoint 'web' has no rollout running."
        token = json.loads(cli("endpoints", "token", "web", "--expires-in", "60", "--json").stdout)["accessToken"]
        reply = httpx.post(ep.scoring_uri, json={"data": ROW}, headers={"authorization": f"Bearer {token}"})
        assert reply.status_code == 200
        listed = json.loads(cli("endpoints", "list", "--json").stdout)
        assert [e["name"] for e in listed] == ["web"] and token not in json.dumps(listed)
        bad = cli("endpoints", "traffic", "web", "blue=50", check=False)
        assert (bad.returncode, bad.stderr.strip()) == (
            1, "error: Traffic of endpoint 'web' must sum to 100; blue 50% sums to 50.")
    finally:
        ip.run_line_magic("delete_endpoint", "web")
    assert mlops.list_endpoints() == [] and mlops.list_deployments() == []
