"""Narrowing float casts (serving/tensors.py): a value the model's float type cannot hold is refused,
whatever the size of the input and wherever the value is; one it can hold, after rounding, is not."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_mlops.serving import tensors
from jupyter_mlops.serving.errors import BadInput

# tensors.py silences numpy's warning about the overflow it refuses; pytest's "error" filter goes first
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
F32_MAX = float(np.finfo(np.float32).max)
SIZES = [1, 20, tensors.SEARCH_MAX, tensors.SEARCH_MAX + 1, 640, 20_000]  # both sides of the switch


def _inputs(size: int) -> list[np.ndarray]:
    rng = np.random.default_rng(size)
    return [rng.normal(size=size), rng.integers(0, 5, size=size).astype(np.float64), np.zeros(size),
            np.full(size, F32_MAX), np.full(size, -3.4028235e38)]  # the last rounds to -max, not to -inf


@pytest.mark.parametrize("size", SIZES)
def test_values_a_float32_can_hold_are_cast_as_numpy_casts_them(size: int) -> None:
    for arr in _inputs(size):
        out = tensors.cast(arr, np.dtype(np.float32), "x", True)
        assert out.dtype == np.float32 and np.array_equal(out, arr.astype(np.float32))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("target, too_big", [(np.float32, 1e39), (np.float32, 3.5e38), (np.float16, 70_000.0)])
def test_one_value_too_big_anywhere_is_refused(size: int, target: type, too_big: float) -> None:
    for arr in _inputs(size)[:3]:
        for where in {0, size // 2, size - 1}:
            for sign in (1, -1):
                bad = (arr / 1e6 if target is np.float16 else arr).copy()
                bad[where] = sign * too_big
                with pytest.raises(BadInput, match=f"Input 'x' holds values out of range for {np.dtype(target)}"):
                    tensors.cast(bad.reshape(-1, 1) if size > 1 else bad, np.dtype(target), "x", True)


def test_inputs_that_may_hold_infinities_are_cast_unchecked() -> None:
    # finite=False: v2's binary tensors are taken as their bytes say
    arr = np.full(tensors.SEARCH_MAX + 1, 1e39)
    assert np.isinf(tensors.cast(arr, np.dtype(np.float32), "x", False)).all()
