"""Adaptive batching: 64 concurrent requests get exactly the answers they get unbatched."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import httpx
import numpy as np

from ..modelfactory import training_data
from .conftest import RunningServer


async def _fire(url: str, rows: np.ndarray) -> list[dict]:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        replies = await asyncio.gather(*(client.post(f"{url}/score", json={"data": [r.tolist()]}) for r in rows))
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies if r.status_code != 200][:3]
    return [r.json() for r in replies]


def test_batched_answers_equal_unbatched(start_server: Callable[..., RunningServer]) -> None:
    rows = training_data(20, rows=64, seed=5)[0]
    plain = start_server(["lr"])
    batched = start_server(["lr"], max_batch_size=32, max_batch_delay_ms=20)
    got, want = asyncio.run(_fire(batched.url, rows)), asyncio.run(_fire(plain.url, rows))
    # Labels are identical. Probabilities match to float32 rounding: onnxruntime's GEMM kernel for
    # a batch sums in another order than its single-row kernel, exactly as when a client itself
    # sends several rows, so bit-identity is not a property the runtime offers.
    assert [g["label"] for g in got] == [w["label"] for w in want]
    np.testing.assert_allclose(
        [g["probabilities"] for g in got], [w["probabilities"] for w in want], rtol=1e-5, atol=1e-7
    )
    metrics = httpx.get(f"{batched.url}/metrics").text  # one worker: its own counts are live
    count = float(re.search(r'mlops_batch_size_count\{model="lr"\} (\S+)', metrics).group(1))
    total = float(re.search(r'mlops_batch_size_sum\{model="lr"\} (\S+)', metrics).group(1))
    assert total == 64 and count < 64  # some requests really were merged
