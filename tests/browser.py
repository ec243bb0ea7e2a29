"""Debian's chromium driven by Playwright (no browser download: ``executable_path``), and where
screenshots go: ``test-artifacts/`` (gitignored; CI keeps it). Video and trace stay off."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .services import REPO, missing

ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        missing("chromium", "apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def screenshot(page: Any, path: Path, target: Any = None) -> Path:
    """Keep a screenshot (of ``target``, a locator, or the page) as a test artifact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    (target or page).screenshot(path=str(path))
    return path


def offline_page(browser: Any, path: Path) -> Any:
    """``path`` (a local HTML file) opened with every request off this machine refused."""
    page = browser.new_page(viewport={"width": 1300, "height": 1600})
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(path.as_uri())
    return page
