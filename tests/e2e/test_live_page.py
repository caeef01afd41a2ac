"""The live notifications page in real headless Chromium (Debian's chromium and chromedriver)
against a real exporter and real `ocpp` stations: a fault appears on the open page, its clear
removes it, the filters work and live in the URL, and the page is usable from the keyboard.

The exporter runs on this test's event loop; selenium blocks, so every browser call runs in a
thread."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, TypeVar

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from exporter.config.model import Site
from exporter.config.security import WebSecurity
from exporter.security.passwords import hash_password
from tests.support.browser import chromium
from tests.support.in_process import Running
from tests.support.in_process import loopback_config as make_config

T = TypeVar("T")
CHARGEX = "https://chargex.inl.gov"

SITES = (
    Site("depot-north", ("CP-N1",), controller="ctl-north"),
    Site("depot-south", ("CP-S1",), controller="ctl-south"),
)


async def run(fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.to_thread(fn, *args)


def wait_for(driver: WebDriver, check: Callable[[WebDriver], Any], timeout: float = 5.0) -> Any:
    return WebDriverWait(
        driver,
        timeout,
        poll_frequency=0.05,
        ignored_exceptions=(StaleElementReferenceException,),
    ).until(check)


def cards(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, "#cards article.card")


def card_ids(driver: WebDriver) -> list[str]:
    # one script call: the page may redraw between two element look-ups
    return driver.execute_script(
        "return [...document.querySelectorAll('#cards article.card')].map(c => c.dataset.id)"
    )


def showing(driver: WebDriver, *fragments: str) -> Callable[[WebDriver], bool]:
    """The page shows exactly one card per fragment, in that order (each id contains it)."""

    def check(d: WebDriver) -> bool:
        ids = card_ids(d)
        return len(ids) == len(fragments) and all(
            f in i for f, i in zip(fragments, ids, strict=True)
        )

    return check


@pytest.fixture
async def browser() -> AsyncIterator[WebDriver]:
    manager = chromium()
    driver = await run(manager.__enter__)
    try:
        yield driver
    finally:
        await run(manager.__exit__, None, None, None)


@pytest.fixture
async def exporter(exporter_factory) -> Running:
    return await exporter_factory(replace(make_config(), sites=SITES))


def watch_cards(driver: WebDriver) -> None:
    """Records in the page when the set of cards next changes: the latency measured is the
    page's own, not that of polling it through chromedriver."""
    driver.execute_script(
        "window.cardsChangedAt = null;"
        "new MutationObserver((records, observer) => {"
        "  window.cardsChangedAt = Date.now(); observer.disconnect();"
        "}).observe(document.getElementById('cards'), {childList: true});"
    )


def changed_at(driver: WebDriver) -> float:
    """Unix time (the browser shares the machine's clock) of the change `watch_cards` saw."""
    return driver.execute_script("return window.cardsChangedAt") / 1000


def open_live(driver: WebDriver, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.find_element(By.ID, "connection").text == "Live")


async def test_a_fault_appears_on_the_open_page_and_its_clear_removes_it(
    exporter: Running, browser: WebDriver, capsys: pytest.CaptureFixture[str]
):
    north = await exporter.station("CP-N1")
    south = await exporter.station("CP-S1")
    try:
        await north.boot()
        await south.boot()
        await run(open_live, browser, exporter.http_url + "/")
        await run(wait_for, browser, showing(browser))
        assert await run(lambda: browser.find_element(By.ID, "empty").is_displayed())

        await run(watch_cards, browser)
        reported = time.time()
        await north.status(1, "Available", "GroundFailure", vendor_error_code="GF-12")
        await run(wait_for, browser, showing(browser, "CP-N1"))
        to_appear = await run(changed_at, browser) - reported
        assert to_appear < 1.0

        card = (await run(cards, browser))[0]
        text = await run(lambda: card.text)
        entry = exporter.svc.catalog.error("GroundFailure")
        assert entry.title in text and "GroundFailure" in text
        assert "CRITICAL" in text.upper()
        assert "Station CP-N1" in text and "Site depot-north" in text and "Connector 1" in text
        assert "active for" in text and "GF-12" in text
        assert entry.description in text and entry.station_behaviour in text
        steps = await run(lambda: [li.text for li in card.find_elements(By.CSS_SELECTOR, "ol li")])
        assert steps == list(entry.resolution)

        # a recognised vendor code brings its own title and steps onto the card
        await north.status(
            2, "Preparing", "OtherError", vendor_id=CHARGEX, vendor_error_code="CX014"
        )
        await run(wait_for, browser, showing(browser, "GroundFailure", "CX014"))
        pilot = exporter.svc.catalog.codes.entry("chargex", "CX014")
        assert pilot is not None
        vendor = await run(lambda: cards(browser)[1].find_element(By.CSS_SELECTOR, ".vendor").text)
        assert f"chargex CX014: {pilot.title}" in vendor
        assert all(step in vendor for step in pilot.resolution)

        await run(watch_cards, browser)
        cleared = time.time()
        await north.status(1, "Available", "NoError")
        await run(wait_for, browser, showing(browser, "CX014"))
        to_disappear = await run(changed_at, browser) - cleared
        assert to_disappear < 1.0
        with capsys.disabled():
            print(
                f"\nlive page: fault on the page {to_appear * 1000:.0f} ms after the "
                f"StatusNotification was sent, cleared {to_disappear * 1000:.0f} ms after NoError"
            )
    finally:
        await north.close()
        await south.close()


def select(driver: WebDriver, name: str, value: str) -> None:
    Select(driver.find_element(By.NAME, name)).select_by_value(value)


def query(driver: WebDriver) -> str:
    return driver.execute_script("return window.location.search")


async def test_filters_narrow_the_cards_and_live_in_the_url(exporter: Running, browser: WebDriver):
    north = await exporter.station("CP-N1")
    south = await exporter.station("CP-S1")
    try:
        await north.boot()
        await south.boot()
        await north.status(1, "Faulted", "GroundFailure")
        await south.status(2, "Available", "WeakSignal")
        await run(open_live, browser, exporter.http_url + "/")
        await run(wait_for, browser, showing(browser, "GroundFailure", "WeakSignal"))

        await run(select, browser, "site", "depot-south")
        await run(wait_for, browser, showing(browser, "CP-S1"))
        assert await run(query, browser) == "?site=depot-south"
        await run(select, browser, "site", "")

        await run(select, browser, "severity", "critical")
        await run(wait_for, browser, showing(browser, "GroundFailure"))
        await run(select, browser, "kind", "station_offline")
        await run(wait_for, browser, showing(browser))
        assert await run(lambda: browser.find_element(By.ID, "empty").is_displayed())
        assert await run(query, browser) == "?severity=critical&kind=station_offline"

        # a shared link opens with the same filters, and the stream keeps it up to date
        await run(open_live, browser, exporter.http_url + "/?kind=station_offline")
        assert (
            await run(
                lambda: Select(
                    browser.find_element(By.NAME, "kind")
                ).first_selected_option.get_attribute("value")
            )
            == "station_offline"
        )
        await run(wait_for, browser, showing(browser))
        await south.close()
        await run(wait_for, browser, showing(browser, "station_offline/depot-south/CP-S1"), 2.0)

        # the station search matches part of an id, case-insensitively
        await run(open_live, browser, exporter.http_url + "/")
        await run(wait_for, browser, lambda d: len(cards(d)) == 3)
        field = await run(browser.find_element, By.NAME, "station")
        await run(field.send_keys, "n1")
        await run(wait_for, browser, showing(browser, "CP-N1"))
        assert await run(query, browser) == "?station=n1"
    finally:
        await north.close()
        await south.close()


async def test_the_page_is_usable_from_the_keyboard(exporter: Running, browser: WebDriver):
    await run(open_live, browser, exporter.http_url + "/")

    def tab_order(d: WebDriver) -> list[str]:
        body = d.find_element(By.TAG_NAME, "body")
        body.click()
        reached = []
        for _ in range(12):
            d.switch_to.active_element.send_keys(Keys.TAB)
            active = d.switch_to.active_element
            reached.append(active.get_attribute("name") or active.get_attribute("href") or "")
        return reached

    reached = await run(tab_order, browser)
    for name in ("site", "severity", "kind", "station"):
        assert name in reached, reached
    assert any(r.endswith("/metrics") for r in reached), reached
    # the focused control is visibly outlined
    outline = await run(
        lambda: browser.execute_script(
            "const s = document.querySelector('select[name=severity]'); s.focus();"
            "return getComputedStyle(s).outlineStyle"
        )
    )
    assert outline not in ("", "none")


async def test_the_page_reconnects_and_catches_up_on_what_it_missed(
    exporter: Running, browser: WebDriver
):
    north = await exporter.station("CP-N1")
    south = await exporter.station("CP-S1")
    stream = exporter.svc.metrics_side.stream
    try:
        await north.boot()
        await south.boot()
        await run(open_live, browser, exporter.http_url + "/")
        await run(wait_for, browser, showing(browser))

        # the connection breaks (a proxy restarts, the laptop's Wi-Fi drops) ...
        for subscriber in list(stream.subscribers):
            subscriber.drop()
        # ... and a fault comes while the page is not connected
        await north.status(1, "Faulted", "OverCurrentFailure")
        await run(wait_for, browser, showing(browser, "OverCurrentFailure"), 10.0)
        assert stream.resumed_total == 1, "the browser did not resume with Last-Event-ID"
        await run(wait_for, browser, lambda d: d.find_element(By.ID, "connection").text == "Live")
    finally:
        await north.close()
        await south.close()


async def test_the_page_and_its_stream_work_behind_basic_auth(exporter_factory, browser: WebDriver):
    web_security = WebSecurity(basic_auth_users={"desk": hash_password("see-the-faults")})
    exporter: Running = await exporter_factory(replace(make_config(), web=web_security))
    station = await exporter.station("CP-AUTH")
    try:
        await station.boot()
        await station.status(1, "Available", "GroundFailure")
        # the browser answers each 401 challenge, the event stream's included
        await run(
            open_live, browser, f"http://desk:see-the-faults@127.0.0.1:{exporter.metrics_port}/"
        )
        await run(wait_for, browser, showing(browser, "CP-AUTH"))
    finally:
        await station.close()


CONTRAST = """
// WCAG 2 contrast ratio of each element's text against the first opaque background behind it.
const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
const lum = ([r, g, b]) => {
  const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (; el; el = el.parentElement) {
    const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c;
  }
  return [255, 255, 255];
};
return [...document.querySelectorAll(arguments[0])].map((el) => {
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
  return [el.className || el.tagName, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
});
"""


async def test_text_meets_wcag_aa_contrast(exporter: Running, browser: WebDriver):
    station = await exporter.station("CP-N1")
    try:
        await station.boot()
        for connector, code in enumerate(
            ("GroundFailure", "ConnectorLockFailure", "EVCommunicationError"), 1
        ):
            await station.status(connector, "Available", code)
        await run(open_live, browser, exporter.http_url + "/")
        await run(wait_for, browser, lambda d: len(card_ids(d)) == 4)  # and CP-S1 offline
        selectors = (
            "h1, nav a, label, #connection, #count, .badge, .card h2, .where, .card p, li, footer p"
        )
        measured = await run(browser.execute_script, CONTRAST, selectors)
        badges = {name for name, _ in measured if name.startswith("badge")}
        assert badges == {"badge critical", "badge warning", "badge info"}
        low = [(name, round(ratio, 2)) for name, ratio in measured if ratio < 4.5]
        assert not low, f"below WCAG AA (4.5:1): {low}"
    finally:
        await station.close()
