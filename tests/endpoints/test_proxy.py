"""An endpoint's nginx itself: HTTPS with a real certificate, started again after it was killed, and
deployments joining and leaving an endpoint under load without a reload."""

from __future__ import annotations

import os
import signal
import ssl
import stat
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.endpoints.nginx import Nginx

from ..test_cli import cli
from .conftest import ROW, Images, answered_by, key_of


def _nginx(images: Images, endpoint: str) -> Nginx:
    return Nginx(images.ws.state_dir / "endpoints" / endpoint / "nginx")


def test_an_endpoint_with_a_certificate_answers_https_through_nginx(images: Images, tmp_path: Path) -> None:
    import trustme

    ca = trustme.CA()
    ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ws, cert, ca_file = images.ws, str(tmp_path / "server.pem"), str(tmp_path / "ca.pem")
    with pytest.raises(mlops.UsageError, match=r"^TLS certificate '/nowhere.pem' does not exist\.$"):
        mlops.create_endpoint("secure-tls", target="process", tls_cert="/nowhere.pem", workspace=ws)
    ep = mlops.create_endpoint("secure-tls", target="process", tls_cert=cert, tls_key=cert, tls_ca=ca_file,
                               workspace=ws)
    try:
        assert ep.scoring_uri and ep.scoring_uri.startswith("https://127.0.0.1:")
        mlops.deploy("tls-blue", images.blue, endpoint="secure-tls", workspace=ws)
        mlops.set_traffic("secure-tls", {"tls-blue": 100}, workspace=ws)
        headers = {"authorization": f"Bearer {key_of(ws, 'secure-tls')}"}
        reply = httpx.post(ep.scoring_uri, json={"data": ROW}, headers=headers,
                           verify=ssl.create_default_context(cafile=ca_file))
        assert reply.status_code == 200 and answered_by(images, reply.json()) == "blue"
        assert reply.headers["azureml-model-deployment"] == "tls-blue"
        assert ep.score(ROW)["label"] in ([0], [1])  # score() trusts the endpoint's CA file
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.post(ep.scoring_uri, json={"data": ROW}, headers=headers)  # not a certificate clients trust
        plain = httpx.post(ep.scoring_uri.replace("https:", "http:"), json={"data": ROW}, headers=headers)
        assert plain.status_code == 400  # nginx: a plain HTTP request sent to the HTTPS port
        staged = ws.state_dir / "endpoints" / "secure-tls" / "tls" / "key.pem"
        assert stat.S_IMODE(staged.stat().st_mode) == 0o600
    finally:
        mlops.delete_endpoint("secure-tls", workspace=ws)


def test_an_endpoint_whose_nginx_was_killed_answers_again_once_used(images: Images) -> None:
    ws = images.ws
    ep = mlops.create_endpoint("reboot", target="process", workspace=ws)
    try:
        mlops.deploy("rb-blue", images.blue, endpoint="reboot", workspace=ws)
        mlops.set_traffic("reboot", {"rb-blue": 100}, workspace=ws)
        headers = {"authorization": f"Bearer {key_of(ws, 'reboot')}"}
        assert ep.scoring_uri
        for use in ("get_endpoint", "endpoints show", "score", "set_traffic"):
            nginx = _nginx(images, "reboot")
            pid = nginx.pid()
            assert pid is not None
            os.killpg(pid, signal.SIGKILL)  # master and workers, as a restart of the machine leaves it
            deadline = time.time() + 5
            while nginx.running() and time.time() < deadline:
                time.sleep(0.05)
            with pytest.raises(httpx.ConnectError):
                httpx.post(ep.scoring_uri, json={"data": ROW}, headers=headers)
            if use == "get_endpoint":
                assert mlops.get_endpoint("reboot", workspace=ws).state == "healthy"
            elif use == "endpoints show":
                shown = cli("endpoints", "show", "reboot", "--workspace", str(ws.root)).stdout
                assert "reboot: healthy" in shown, shown
            elif use == "score":
                assert ep.score(ROW)["label"] in ([0], [1])
            else:
                mlops.set_traffic("reboot", {"rb-blue": 100}, workspace=ws)
            assert nginx.pid() not in (None, pid), use
            assert httpx.post(ep.scoring_uri, json={"data": ROW}, headers=headers).status_code == 200, use
        events = [e for e in mlops.get_endpoint("reboot", workspace=ws).events if e.kind == "proxy-started"]
        assert len(events) == 4
    finally:
        mlops.delete_endpoint("reboot", workspace=ws)


def test_deployments_join_and_leave_under_steady_clients_with_no_reload_and_no_loss(images: Images) -> None:
    ws = images.ws
    ep = mlops.create_endpoint("busy", target="process", workspace=ws)
    try:
        mlops.deploy("busy-blue", images.blue, endpoint="busy", workspace=ws)
        mlops.set_traffic("busy", {"busy-blue": 100}, workspace=ws)
        master = _nginx(images, "busy").pid()
        before = sorted(Path(f"/proc/{master}/task/{master}/children").read_text().split())
        key, stop, statuses, errors = key_of(ws, "busy"), threading.Event(), Counter[int](), []

        def client() -> None:
            with httpx.Client(timeout=30, headers={"authorization": f"Bearer {key}"}) as c:
                while not stop.is_set():
                    try:
                        statuses[c.post(str(ep.scoring_uri), json={"data": ROW}).status_code] += 1
                    except httpx.HTTPError as exc:
                        errors.append(repr(exc))

        clients = [threading.Thread(target=client) for _ in range(4)]
        [c.start() for c in clients]
        try:
            for _ in range(2):
                mlops.deploy("busy-green", images.green, endpoint="busy", workspace=ws)
                mlops.set_traffic("busy", {"busy-blue": 50, "busy-green": 50}, workspace=ws)
                time.sleep(0.3)
                mlops.set_traffic("busy", {"busy-blue": 100}, workspace=ws)
                mlops.undeploy("busy-green", workspace=ws)
        finally:
            stop.set()
            [c.join() for c in clients]
        assert errors == [] and set(statuses) == {200} and statuses[200] > 100, (statuses, errors[:3])
        after = sorted(Path(f"/proc/{master}/task/{master}/children").read_text().split())
        assert after == before  # the same worker: nginx was never reloaded
    finally:
        mlops.delete_endpoint("busy", workspace=ws)
