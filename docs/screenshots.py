"""Make the screenshots in docs/img: the explorer on an ML-100K MatrixFactorization (an item and a user
selected) and that model's report, in Debian's chromium driven by playwright.

    FEATVEC_DATA=../shared/data .venv/bin/python docs/screenshots.py
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

IMG = Path(__file__).resolve().parent / "img"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync",
        "--disable-component-update"]


def featvec(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "featvec.cli", *args], check=True)


def main() -> None:
    IMG.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        model, page_dir, report = Path(tmp) / "ml100k", Path(tmp) / "explorer", Path(tmp) / "report.html"
        featvec("fit", "--dataset", "ml-100k", "--out", str(model))
        featvec("explore", str(model), "--dataset", "ml-100k", "--out", str(page_dir))
        featvec("report", str(model), "--dataset", "ml-100k", "--out", str(report))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 860})
            errors = []
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.goto((page_dir / "index.html").as_uri())
            page.wait_for_selector("body[data-ready='1']")
            page.select_option("#color", "training rows")
            page.fill("#search", "star wars")
            page.wait_for_selector("#suggestions li")
            page.screenshot(path=str(IMG / "explorer-search.png"))
            page.keyboard.press("Enter")
            page.mouse.move(5, 300)
            page.screenshot(path=str(IMG / "explorer-item.png"))
            page.select_option("#table", "users")
            page.fill("#search", "13")
            page.wait_for_selector("#suggestions li")
            page.keyboard.press("Enter")
            page.select_option("#color", "gender")
            page.screenshot(path=str(IMG / "explorer-user.png"))
            page.goto(report.as_uri())
            page.set_viewport_size({"width": 1100, "height": 860})
            page.screenshot(path=str(IMG / "report.png"), full_page=True)
            browser.close()
            if errors:
                raise SystemExit(f"console errors: {errors}")
    print("wrote", *sorted(f.name for f in IMG.glob("*.png")))


if __name__ == "__main__":
    main()
