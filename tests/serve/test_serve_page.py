"""The analyst page in headless Debian Chromium (Playwright): paste a seed, see labels and highlighted evidence."""

from __future__ import annotations

import os
import shutil

import pytest

from serve_helpers import ADMIN, live_server


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    if path is None:
        message = "Debian chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; CI must run the browser test")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_paste_classify_highlight_and_save(browser, settings_factory, seeds, tmp_path):
    from serve.app import create_app

    app = create_app(settings_factory())
    with live_server(app) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        try:
            page.goto(url + "/")
            page.wait_for_function("() => document.getElementById('model-name').textContent.length > 0")
            assert page.locator("#classify").inner_text() == "Klasifikasi"
            page.fill("#text", seeds[0])
            page.click("#classify")
            page.wait_for_selector("#labels li.issue.predicted")
            predicted = page.locator("#labels li.issue.predicted")
            assert predicted.count() >= 1
            assert page.locator("#labels .bar .fill").count() == 11
            marks = page.locator("#article mark.evidence")
            assert marks.count() >= 1
            assert marks.first.inner_text().strip() in seeds[0]
            assert "Kota Bekasi" in page.locator("#regions").inner_text()
            assert page.locator("#region-codes").input_value() == "32.75"
            page.screenshot(path=str(tmp_path / "analyst-page.png"), full_page=True)

            page.click("#lang")
            assert page.locator("#classify").inner_text() == "Classify"
            assert "Money politics" in page.locator("#labels").inner_text()

            first = predicted.first.locator("input[type=checkbox]")
            first.uncheck()
            page.fill("#region-codes", "32.75, 32")
            page.fill("#annotator", "uji")
            page.fill("#token", ADMIN)
            page.click("#save")
            page.wait_for_function("() => document.getElementById('save-status').textContent.startsWith('Saved')")
        finally:
            page.close()
    assert (tmp_path / "analyst-page.png").stat().st_size > 10_000
    [row] = app.state.store.current()
    assert row["text"] == seeds[0].strip() and row["annotator"] == "uji" and row["source"] == "web"
    assert [r["code"] for r in row["regions"]] == ["32.75", "32"]
