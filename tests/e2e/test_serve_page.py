"""The page `engine serve` shows at /, in a real headless browser (Debian's chromium, driven
by playwright): find a listener, read the rendered recommendations and their reasons."""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_page_is_served_with_its_script(api):
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/v1/users/" in page.text and "counterfactual=true" in page.text
    found = api.get("/v1/users", params={"prefix": "user_000", "limit": 3}).json()["users"]
    assert found == ["user_0001", "user_0002", "user_0003"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it)")
def test_a_person_finds_a_listener_and_reads_the_reasons(api):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(str(api.base_url) + "/")
            page.wait_for_selector("#versions tbody tr")
            assert "v1" in page.inner_text("#versions")
            page.fill("#listener", "user_000")  # typing offers listeners to pick
            page.wait_for_function("document.querySelectorAll('#listeners option').length > 0")
            page.fill("#listener", "user_0004")
            page.click("button[type=submit]")
            page.wait_for_selector("#songs li.song")
            songs = page.query_selector_all("#songs li.song")
            assert len(songs) == 10
            first = songs[0].inner_text()
            assert "score" in first and "What would change it" in first
            assert len(songs[0].query_selector_all(".bar")) >= 1  # the attention per history song
            status = "document.querySelector('#status').textContent"
            page.fill("#at", "2024-05-01T08:00")  # a time asked for reaches the model
            page.click("button[type=submit]")
            page.wait_for_function(f"{status}.includes('no listening context')")
            page.fill("#at", "")
            page.fill("#listener", "nobody at all")
            page.click("button[type=submit]")
            page.wait_for_function(f"{status}.includes('new to the model')")  # popular songs, and why
        finally:
            browser.close()
