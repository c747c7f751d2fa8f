"""A real browser for the page tests: playwright driving Debian's chromium (``.ci/run`` installs both).

Without them the tests skip, saying why; with FEATVEC_REQUIRE_BROWSER=1 (CI) they fail instead. Every page
fails its test on a console error, an uncaught exception or a request that leaves this machine."""
from __future__ import annotations

import os
import shutil

import pytest

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps"]
LOCAL = ("file://", "http://127.0.0.1", "data:", "about:blank")


def _chromium() -> str | None:
    for path in (os.environ.get("FEATVEC_CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if path and os.path.exists(path):
            return path
    return None


def _missing(reason: str):
    if os.environ.get("FEATVEC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (FEATVEC_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    path = _chromium()
    if path is None:
        _missing("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


class Watched:
    """A page and what went wrong on it."""

    def __init__(self, page):
        self.page, self.errors, self.requests = page, [], []
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.errors.append(f"exception: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed request: {r.url}"))
        page.on("request", lambda r: self.requests.append(r.url))

    def check(self) -> None:
        outside = [u for u in self.requests if not u.startswith(LOCAL)]
        assert not outside, f"requests leaving the machine: {outside[:5]}"
        assert not self.errors, self.errors


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1300, "height": 820})
    watched = Watched(ctx.new_page())
    yield watched
    try:
        watched.check()
    finally:
        ctx.close()
