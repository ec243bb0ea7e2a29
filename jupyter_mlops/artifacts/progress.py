"""Progress bars for long transfers: tqdm's notebook widget in Jupyter, a text bar in a terminal."""

from __future__ import annotations

from typing import Any

PROGRESS_THRESHOLD = 16 * 1024 * 1024  # bytes; smaller transfers finish before a bar helps


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool | None = None) -> Any:
    """A byte-counting bar; ``enabled=None`` shows one only for transfers over the threshold."""
    if enabled is None:
        enabled = total >= PROGRESS_THRESHOLD
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False)
