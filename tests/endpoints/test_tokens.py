"""Expiring tokens: an endpoint with token auth, through nginx to a real server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

import jupyter_mlops as mlops
from jupyter_mlops.deployments import keys as keyring
from jupyter_mlops.serving.auth import TOKEN_SECRET

from .conftest import ROW, Images, state_files


@pytest.fixture(scope="module")
def secure(images: Images) -> Iterator[mlops.Endpoint]:
    ws = images.ws
    mlops.create_endpoint("secure", target="process", auth="token", workspace=ws)
    mlops.deploy("blue", images.blue, endpoint="secure", workspace=ws)
    yield mlops.set_traffic("secure", {"blue": 100}, workspace=ws)
    mlops.delete_endpoint("secure", workspace=ws)


def _status(url: str, token: str | None, deployment: str | None = None) -> int:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if deployment:
        headers["azureml-model-deployment"] = deployment
    return httpx.post(url, json={"data": ROW}, headers=headers).status_code


def test_a_token_works_before_its_expiry_and_gets_401_after(images: Images, secure: mlops.Endpoint) -> None:
    token = mlops.get_token("secure", expires_in=2, workspace=images.ws)
    assert token.expires_at == pytest.approx(time.time() + 2, abs=0.5)
    assert _status(secure.scoring_uri, token.access_token) == 200
    assert _status(secure.scoring_uri, token.access_token, deployment="blue") == 200
    time.sleep(max(0.0, token.expires_at - time.time()) + 0.3)
    headers = {"authorization": f"Bearer {token.access_token}"}
    reply = httpx.post(secure.scoring_uri, json={"data": ROW}, headers=headers)
    assert (reply.status_code, reply.json()) == (401, {"message": "Unauthorized."})
    assert _status(secure.scoring_uri, mlops.get_token("secure", workspace=images.ws).access_token) == 200


def test_tokens_are_standard_jwts_and_forgeries_are_refused(images: Images, secure: mlops.Endpoint) -> None:
    ws, url = images.ws, secure.scoring_uri
    token = mlops.get_token("secure", expires_in=60, workspace=ws).access_token
    secret = keyring.server_secrets(keyring.endpoint_secrets_dir(ws, "secure"))[TOKEN_SECRET]
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="secure")  # PyJWT reads ours
    assert claims["exp"] > time.time()
    assert _status(url, jwt.encode({"exp": time.time() + 60}, secret, algorithm="HS256")) == 200  # and we read PyJWT's
    other = "another secret, of 32 bytes or more"
    assert _status(url, jwt.encode({"exp": time.time() + 60}, other, algorithm="HS256")) == 401
    assert _status(url, jwt.encode({"exp": time.time() + 60}, secret, algorithm="HS512")) == 401
    assert _status(url, jwt.encode({"exp": time.time() + 60}, None, algorithm="none")) == 401
    assert _status(url, jwt.encode({"sub": "no expiry"}, secret, algorithm="HS256")) == 401
    header, payload, signature = token.split(".")
    forged = jwt.encode({**claims, "exp": time.time() + 10**6}, "x" * 32, algorithm="HS256").split(".")[1]
    assert _status(url, f"{header}.{forged}.{signature}") == 401
    assert _status(url, secret) == 401  # the signing secret is not a key
    assert mlops.get_keys("blue", workspace=ws) == {}  # and never shown as one


def test_tokens_and_keys_are_for_their_own_auth_mode_and_never_in_outputs(images: Images,
                                                                          secure: mlops.Endpoint) -> None:
    ws = images.ws
    with pytest.raises(mlops.UsageError, match="^Endpoint 'secure' uses token auth: it has no keys.$"):
        mlops.get_endpoint_keys("secure", workspace=ws)
    with pytest.raises(mlops.UsageError, match="^Invalid expires_in 0"):
        mlops.get_token("secure", expires_in=0, workspace=ws)
    token = mlops.get_token("secure", workspace=ws)
    assert secure.score(ROW)["label"] in ([0], [1])  # our own client mints a short token
    assert mlops.get_deployment("blue", workspace=ws).score(ROW)["label"] in ([0], [1])
    ep = mlops.get_endpoint("secure", workspace=ws)
    shown = repr(token) + str(ep.to_dict()) + ep._repr_html_() + state_files(ws, "secure")
    assert token.access_token not in shown and "expires" in repr(token)
    mlops.create_endpoint("keyed", target="process", workspace=ws)
    try:
        with pytest.raises(mlops.UsageError, match="^Endpoint 'keyed' uses key auth: it has no tokens.$"):
            mlops.get_token("keyed", workspace=ws)
    finally:
        mlops.delete_endpoint("keyed", workspace=ws)
