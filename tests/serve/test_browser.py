"""`zoo serve` end to end in headless Chromium: draw digits with mouse and touch strokes, read the
predictions the page shows, check the 28×28 preview, Clear, and the Weights tab.

Needs Debian's `chromium` and `chromium-driver` (`make system-deps`). Where they are missing or
the browser cannot start, the tests skip with a loud message; set ZOO_REQUIRE_BROWSER=1 to make
that a failure instead. ZOO_CHROMIUM and ZOO_CHROMEDRIVER name other binaries;
ZOO_UPDATE_SCREENSHOT=1 writes the README's screenshot, docs/images/serve.png.
"""

from __future__ import annotations

import itertools
import math
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.serve_client import Client
from PIL import Image

from zoo.serve import ZooServer

try:
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as error:
    webdriver = None
    SELENIUM_ERROR = str(error)

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "docs" / "images" / "serve.png"
WINDOW = (1100, 860)
PAD = 280  # the canvas's size in CSS pixels; strokes below are in its coordinates

Stroke = list[tuple[float, float]]


def _line(points: list[tuple[float, float]], step: float = 12) -> Stroke:
    """Points every `step` pixels along a polyline, as a hand would move."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        n = max(1, int(math.dist((x0, y0), (x1, y1)) / step))
        out += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    return out


def _ellipse(cx: float, cy: float, rx: float, ry: float, points: int = 36) -> Stroke:
    angles = [2 * math.pi * i / points - math.pi / 2 for i in range(points + 2)]
    return [(cx + rx * math.cos(a), cy + ry * math.sin(a)) for a in angles]


DIGITS: dict[str, list[Stroke]] = {
    "1": [_line([(150, 45), (135, 235)])],
    "7": [_line([(75, 55), (205, 55), (115, 235)])],
    "0": [_ellipse(140, 140, 62, 90)],
    "4": [_line([(165, 45), (75, 165), (210, 165)]), _line([(170, 95), (170, 240)])],
}


def _find(variable: str, names: tuple[str, ...]) -> str | None:
    if os.environ.get(variable):
        return shutil.which(os.environ[variable])
    for name in names:
        path = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None
        )
        if path:
            return path
    return None


def _no_browser(reason: str) -> None:
    message = (
        f"BROWSER TESTS NOT RUN: {reason}. The draw-a-digit page was NOT tested end to end. "
        "Install Debian's chromium and chromium-driver (make system-deps) and selenium."
    )
    if os.environ.get("ZOO_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " (ZOO_REQUIRE_BROWSER=1)")
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="module")
def driver() -> Iterator[webdriver.Chrome]:
    """Headless Chromium driven by chromedriver, both from the system; nothing is downloaded."""
    if webdriver is None:
        _no_browser(f"selenium cannot be imported ({SELENIUM_ERROR}; pip install -e '.[dev]')")
    browser = _find("ZOO_CHROMIUM", ("chromium", "chromium-browser"))
    chromedriver = _find("ZOO_CHROMEDRIVER", ("chromedriver",))
    if browser is None or chromedriver is None:
        _no_browser(f"chromium={browser}, chromedriver={chromedriver}")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", "--force-device-scale-factor=1",
        "--hide-scrollbars", "--lang=en-US",
    ):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a driver
    try:
        chrome = webdriver.Chrome(service=Service(chromedriver), options=options)
    except WebDriverException as error:
        _no_browser(f"chromium did not start: {error.msg or error}".strip())
    chrome.set_script_timeout(20)
    yield chrome
    chrome.quit()


@pytest.fixture
def page(driver: webdriver.Chrome, server: ZooServer) -> Iterator[webdriver.Chrome]:
    """The page freshly loaded, its model rows built; afterwards, its console must hold no
    errors (script errors, failed loads, Content-Security-Policy violations)."""
    driver.get_log("browser")  # drop what earlier tests left
    driver.get(server.url)
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.getElementById('results').dataset.models")
    )
    yield driver
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def _offset(point: tuple[float, float]) -> tuple[int, int]:
    # WebDriver offsets are whole pixels from the element's centre.
    return round(point[0] - PAD / 2), round(point[1] - PAD / 2)


def draw_with_mouse(driver: webdriver.Chrome, strokes: list[Stroke]) -> None:
    """Draw each stroke as press, moves and release of the mouse."""
    pad = driver.find_element(By.ID, "pad")
    actions = ActionChains(driver, duration=0)
    for stroke in strokes:
        actions.move_to_element_with_offset(pad, *_offset(stroke[0])).click_and_hold()
        for point in stroke[1:]:
            actions.move_to_element_with_offset(pad, *_offset(point))
        actions.release()
    actions.perform()


def draw_with_finger(driver: webdriver.Chrome, strokes: list[Stroke]) -> None:
    """Draw each stroke as a touch: finger down, moves, finger up."""
    pad = driver.find_element(By.ID, "pad")
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")
    builder = ActionBuilder(driver, mouse=finger, duration=0)
    for stroke in strokes:
        builder.pointer_action.move_to(pad, *_offset(stroke[0])).pointer_down()
        for point in stroke[1:]:
            builder.pointer_action.move_to(pad, *_offset(point))
        builder.pointer_action.pointer_up()
    builder.perform()


def shown_predictions(driver: webdriver.Chrome) -> dict:
    """Wait until the results shown are those of the drawing as it is now, then read them."""
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "const r = document.getElementById('results');"
            "return r.dataset.state !== 'empty' &&"
            " r.dataset.version === document.getElementById('pad').dataset.version;"
        )
    )
    return driver.execute_script(
        """
        const results = document.getElementById('results');
        const rows = [...results.querySelectorAll('.model')];
        const preview = document.getElementById('input');
        const pixels = preview.getContext('2d').getImageData(0, 0, 28, 28).data;
        return {
          state: results.dataset.state,
          status: document.getElementById('status').textContent,
          tops: Object.fromEntries(rows.map((r) => [r.dataset.model, r.dataset.top])),
          highlighted: rows.map((r) => r.querySelector('.bar.top .label').textContent),
          answers: rows.map((r) => r.querySelector('.answer').textContent),
          preview: Array.from({length: 784}, (_, i) => pixels[4 * i]),
          filled: preview.dataset.filled,
          drawing: document.getElementById('pad').toDataURL('image/png'),
        };
        """
    )


def assert_shows(driver: webdriver.Chrome, client: Client, digit: str) -> dict:
    """Every model on the page reads `digit`, and the page shows exactly what the API says
    about the canvas's own pixels: the same tops and the same 28×28 input."""
    shown = shown_predictions(driver)
    assert shown["state"] == "ok", shown["status"]
    assert shown["tops"] and set(shown["tops"].values()) == {digit}, shown["tops"]
    assert shown["highlighted"] == [digit] * len(shown["tops"])
    api = client.predict(shown["drawing"]).json()
    assert shown["tops"] == {p["model"]: p["top"] for p in api["predictions"]}
    assert shown["filled"] == "true"
    assert shown["preview"] == [v for row in api["input"] for v in row]
    return shown


def clear(driver: webdriver.Chrome) -> None:
    """Press Clear and check that drawing, results and preview are empty again."""
    driver.find_element(By.ID, "clear").click()
    state = driver.execute_script(
        """
        const pad = document.getElementById('pad');
        const ink = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data
          .some((v, i) => i % 4 !== 3 && v !== 255);
        const preview = document.getElementById('input').getContext('2d')
          .getImageData(0, 0, 28, 28).data.some((v, i) => i % 4 !== 3 && v !== 0);
        const tops = [...document.querySelectorAll('.model')].map((r) => r.dataset.top);
        return {ink, preview, tops, state: document.getElementById('results').dataset.state};
        """
    )
    assert state == {"ink": False, "preview": False, "tops": [""] * 4, "state": "empty"}


@pytest.mark.parametrize("digit", ["1", "7", "0"])
def test_mouse_drawn_digits_are_read_by_every_model(page, client: Client, digit: str) -> None:
    draw_with_mouse(page, DIGITS[digit])
    assert_shows(page, client, digit)
    assert page.find_element(By.ID, "pad").get_attribute("data-pointer") == "mouse"
    clear(page)


def test_finger_drawn_digit(page, client: Client) -> None:
    draw_with_finger(page, DIGITS["4"])
    assert_shows(page, client, "4")
    assert page.find_element(By.ID, "pad").get_attribute("data-pointer") == "touch"


def test_clear_then_draw_again(page, client: Client) -> None:
    draw_with_mouse(page, DIGITS["0"])
    shown_predictions(page)
    clear(page)
    draw_with_mouse(page, DIGITS["1"])
    assert_shows(page, client, "1")


def test_weights_tab_shows_the_table_and_cards(page, server: ZooServer) -> None:
    page.find_element(By.ID, "tab-weights").click()
    WebDriverWait(page, 20).until(
        lambda d: d.find_element(By.ID, "weights-table").get_attribute("data-loaded") == "true"
    )
    assert not page.find_element(By.ID, "panel-weights").get_attribute("hidden")
    assert page.find_element(By.ID, "panel-draw").get_attribute("hidden")
    keys = server.app.table.keys()
    rows = page.find_elements(By.CSS_SELECTOR, "#weights-table tbody tr")
    assert len(rows) == len(keys)
    assert "ResNetMNIST" in page.find_element(By.ID, "weights-table").text
    cards = page.find_elements(By.CSS_SELECTOR, "#cards details.card")
    assert [c.get_attribute("data-key") for c in cards] == keys
    # The table links to the cards: following one opens it.
    key = "resnet_mnist.mnist_v1"
    page.find_element(By.CSS_SELECTOR, f"#weights-table a[href='#card-{key}']").click()
    card = page.find_element(By.ID, f"card-{key}")
    WebDriverWait(page, 5).until(lambda d: card.get_attribute("open") is not None)
    assert card.find_element(By.TAG_NAME, "h3").text == key
    assert "test accuracy" in card.find_element(By.TAG_NAME, "table").text
    assert "from_pretrained" in card.find_element(By.TAG_NAME, "pre").text
    # Every plot the card shows loads (lazily: brought into view first), the training curves
    # among them.
    images = card.find_elements(By.TAG_NAME, "img")
    assert "training curves" in [i.get_attribute("alt") for i in images]
    for image in images:
        page.execute_script("arguments[0].scrollIntoView()", image)
        WebDriverWait(page, 10).until(
            lambda d, image=image: d.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth", image
            )
        )
    # A card links another inside the page: the server renders the links as #card- anchors.
    links = page.find_elements(By.CSS_SELECTOR, "#cards a[href^='#card-']")
    assert all(link.get_attribute("href").split("#card-")[1] in keys for link in links)
    # The cards are the server's sanitised HTML: nothing in them runs or loads from elsewhere.
    assert not page.find_elements(
        By.CSS_SELECTOR, "#cards script, #cards iframe, #cards [style], #cards [onerror]"
    )
    sources = [i.get_attribute("src") for i in page.find_elements(By.CSS_SELECTOR, "#cards img")]
    assert sources and all(src.startswith(server.url + "curves/") for src in sources)


def test_api_docs_page_works_offline(driver: webdriver.Chrome, server: ZooServer) -> None:
    """/docs: Swagger UI, served by zoo itself, lists every endpoint from /openapi.json under
    the same Content-Security-Policy as the page (a violation is a console error)."""
    driver.get_log("browser")
    driver.get(server.url + "docs")
    WebDriverWait(driver, 30).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")) >= 4
    )
    paths = {e.text for e in driver.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/predict", "/api/models", "/api/weights", "/api/health"} <= paths, paths
    assert "zoo serve" in driver.find_element(By.CSS_SELECTOR, ".info .title").text
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert loaded and all(url.startswith(server.url) for url in loaded), loaded
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def test_screenshot_of_a_drawn_digit(page, client: Client, tmp_path: Path) -> None:
    draw_with_mouse(page, DIGITS["7"])
    assert_shows(page, client, "7")
    shot = tmp_path / "serve.png"
    assert page.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.width == WINDOW[0]
    if os.environ.get("ZOO_UPDATE_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        partial = SCREENSHOT.with_suffix(".png.part")
        shutil.copyfile(shot, partial)
        os.replace(partial, SCREENSHOT)
