"""In a real headless browser (Debian's chromium, driven by Playwright; no browser is
downloaded): a studio session and a listening-test session, with screenshots kept.

Screenshots go to $CADENZA_TEST_ARTIFACTS, else to ``artifacts/`` in pytest's base
temporary folder (its path is printed). A browser that cannot start is a failure.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from helpers import ADMIN, free_port, serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
        "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CADENZA_TEST_ARTIFACTS") or
                  tmp_path_factory.getbasetemp() / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def site(pool_template: Path, tmp_path_factory):
    data = tmp_path_factory.mktemp("browser") / "data"
    shutil.copytree(pool_template, data)
    port = free_port()
    server = serve(data, port)
    yield f"http://127.0.0.1:{port}", data
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.fail(f"the browser tests need the playwright package ({err}); "
                    "pip install -e '.[dev]'")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no {CHROMIUM}: the browser tests need Debian's chromium "
                    "(make system-deps, or apt-get install chromium chromium-driver)")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Exception as err:
            pytest.fail(f"chromium at {CHROMIUM} did not start: {str(err).splitlines()[0]}")
        yield chromium
        chromium.close()


def wait_until(page, expression: str, timeout: float = 60.0) -> None:
    """Poll a JS expression (``wait_for_function`` would need 'unsafe-eval', which the
    site's Content-Security-Policy rightly refuses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.1)


def test_studio_generate_play_and_see_the_score(site, browser, artifacts: Path):
    base, _ = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}/")
    page.fill("#tab-generate input[name=bars]", "8")
    page.fill("#tab-generate input[name=seed]", "5")
    page.click("#generate-button")
    page.wait_for_selector(".progress, .result", timeout=10_000)
    page.wait_for_selector(".result .score svg", timeout=120_000)
    assert page.locator(".result .score svg").first.is_visible()
    assert page.locator(".result img.roll").evaluate("img => img.naturalWidth") > 100
    page.evaluate("document.getElementById('player').play()")
    wait_until(page, "document.getElementById('player').currentTime > 0.3", 20)
    assert page.evaluate("document.getElementById('player').duration") > 5
    page.screenshot(path=str(artifacts / "studio.png"), full_page=True)
    first = page.locator(".result").get_attribute("id")
    page.click("button.regenerate")  # the same settings, the next seed
    wait_until(page, f"document.querySelector('.result') && "
                     f"document.querySelector('.result').id !== '{first}'", 120)
    assert page.input_value("#tab-generate input[name=seed]") == "6"
    harmonize = page.locator(".tab[data-tab=harmonize]")
    harmonize.click()
    assert page.locator("#tab-harmonize").is_visible()
    page.close()


def play_all(page) -> None:
    """Play every clip on the page, sped up (the analysis marks such sessions as too fast;
    the page itself only counts media time played)."""
    page.evaluate("""() => document.querySelectorAll('audio[data-slot]').forEach(a => {
        a.playbackRate = 16; a.play(); })""")


def test_listening_session_lands_in_the_database(site, browser, artifacts: Path):
    base, data = site
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"{base}/test")
    page.screenshot(path=str(artifacts / "test-consent.png"), full_page=True)
    page.check("input[name=consent]")
    page.select_option("select[name=experience]", "musician")
    page.click("#start-button")
    answered = 0
    while "/test/trial" in page.url:
        buttons = page.locator("button.answer")
        assert buttons.first.is_disabled()  # nothing can be answered before listening
        if answered == 0:
            page.screenshot(path=str(artifacts / "test-trial.png"), full_page=True)
        play_all(page)
        wait_until(page, "!document.querySelector('button.answer').disabled", 60)
        buttons.first.click()
        page.wait_for_load_state()
        answered += 1
        assert answered <= 13
    assert answered == 13 and "/test/done" in page.url
    assert "You were right on" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "test-done.png"), full_page=True)

    from sqlalchemy import func, select

    from cadenza.web import db
    from cadenza.web.db import PlayEvent, Response

    engine = db.make_engine(f"sqlite:///{data / 'cadenza.db'}")
    with engine.connect() as connection:
        responses = connection.execute(select(func.count()).select_from(Response)).scalar()
        plays = connection.execute(select(func.count()).select_from(PlayEvent)
                                   .where(PlayEvent.event == "play")).scalar()
    engine.dispose()
    assert responses == 13
    assert plays >= 13  # every clip's play was logged (pairs: two per trial)

    page.goto(f"{base}/admin")
    page.fill("input[name=token]", ADMIN)
    page.click("button[type=submit]")
    page.wait_for_selector("#counts")
    counts = page.inner_text("#counts")
    assert "1 sessions (1 finished), 13 stored responses" in counts
    assert "too fast 1" in counts  # played at 16x: excluded in the analysis, kept in data
    page.screenshot(path=str(artifacts / "results.png"), full_page=True)
    page.close()
