"""The HTML report in a real browser: headless Chromium (Debian's chromium + chromium-driver).

Runs are made through the runner on a small folder dataset whose category name and model texts
are hostile; the page must load from file:// without a console error (an injected script, a
blocked load or a JS error would log one), its gallery filters must change what is shown, and a
screenshot is taken and kept beside the report for people to look at.

`make test` installs the two Debian packages when missing. Without them the test skips, except
under CI (CI=true), where a missing browser fails the test instead of hiding it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import iadbench
from iadbench.execution.planning import RunRequest, plan_run
from iadbench.execution.runner import execute_run
from iadbench.views.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
HOSTILE_CATEGORY = '"><img src=x onerror=alert(2)>'
CATEGORIES = ("bolt", HOSTILE_CATEGORY)
# Without the networking flags Chromium keeps trying to reach Google's services on this closed
# network, which fills the log and slows start-up.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1280,1600",
)  # fmt: skip

webdriver = pytest.importorskip("selenium.webdriver")

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    if os.environ.get("CI"):
        pytest.fail("chromium / chromium-driver missing: `make test` installs them", pytrace=False)
    pytest.skip("needs Debian's chromium and chromium-driver", allow_module_level=True)


class Chatty(iadbench.MethodAdapter[Any]):
    """A text method whose answers (and hostile texts) follow a hash of the image id."""

    capabilities = iadbench.Capabilities(needs_pixels=False, gives_text=True)

    def predict(self, batch: list[iadbench.Sample]) -> list[iadbench.Prediction]:
        answers = []
        for sample in batch:
            label = ("defect", "normal", "invalid")[zlib.crc32(sample.id.encode()) % 3]
            letter = {"defect": "A", "normal": "B", "invalid": "A or B"}[label]
            text = (f"<think>The {sample.category} shows <script>alert(1)</script> nothing "
                    f"odd.</think> <answer>{letter}</answer>")  # fmt: skip
            answers.append(iadbench.Prediction(label=label, text=text))
        return answers


class Scorer(iadbench.MethodAdapter[Any]):
    """A score method that peeks at the truth, so its ROC curve is not a diagonal."""

    capabilities = iadbench.Capabilities(needs_pixels=False, gives_scores=True)

    def predict(self, batch: list[iadbench.Sample]) -> list[iadbench.Prediction]:
        noise = [zlib.crc32(s.id.encode()) % 100 / 250 for s in batch]
        return [iadbench.Prediction(score=(0.5 if s.label == "defect" else 0.1) + n)
                for s, n in zip(batch, noise, strict=True)]  # fmt: skip


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Runs of two baselines, a text and a score method on a hostile folder dataset; the page."""
    iadbench.register_method("chatty-browser")(Chatty)
    iadbench.register_method("scorer-browser")(Scorer)
    base = tmp_path_factory.mktemp("html-report")
    data = base / "parts"
    for c, category in enumerate(CATEGORIES):
        for folder in ("good", "scratch"):
            (data / category / folder).mkdir(parents=True)
            for i in range(4):
                colour = (60 * c + 40, 30 * i + 60, 200 if folder == "good" else 40)
                Image.new("RGB", (96, 72), colour).save(data / category / folder / f"{i}.png")
    runs = base / "runs"
    for method in ("always-normal", "always-defect", "chatty-browser", "scorer-browser"):
        request = RunRequest(method=method, train="parts", test="parts",
                             data_roots={"parts": str(data)}, out=runs / method)  # fmt: skip
        assert execute_run(plan_run(request)).summary is not None
    return write_report(runs)


@pytest.fixture(scope="module")
def browser(report_file: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile, browser console logged."""
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="iadbench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: selenium must not try to download one (no network here).
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.get(report_file.as_uri())
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _visible(driver: Any) -> list[Any]:
    items = driver.find_elements("css selector", ".gallery-item")
    assert items
    return [item for item in items if item.is_displayed()]


def _choose(driver: Any, select_class: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("css selector", f"select.{select_class}")).select_by_value(value)


def test_page_loads_from_disk_without_console_errors(browser: Any) -> None:
    assert browser.title.startswith("iadbench report")
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []
    # The hostile strings arrived as text: no injected element, the script shown verbatim.
    assert browser.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    assert browser.execute_script("return document.scripts.length") == 1
    assert "<script>alert(1)</script>" in browser.find_element("css selector", "pre.think").text
    headings = [h.text for h in browser.find_elements("css selector", "h2")]
    assert headings[0].startswith("Verdict")
    assert browser.find_elements("css selector", "img[alt^='ROC']")


def test_gallery_filters_change_what_is_shown(browser: Any) -> None:
    everything = _visible(browser)
    _choose(browser, "filter-outcome", "invalid")
    invalid = _visible(browser)
    assert 0 < len(invalid) < len(everything)
    assert {item.get_attribute("data-outcome") for item in invalid} == {"invalid"}
    _choose(browser, "filter-outcome", "wrong")
    wrong = _visible(browser)
    assert {item.get_attribute("data-outcome") for item in wrong} <= {"wrong", "invalid"}
    assert len(invalid) < len(wrong) < len(everything)
    _choose(browser, "filter-outcome", "all")
    _choose(browser, "filter-category", HOSTILE_CATEGORY)
    hostile = _visible(browser)
    assert 0 < len(hostile) < len(everything)
    assert {item.get_attribute("data-category") for item in hostile} == {HOSTILE_CATEGORY}
    count = browser.find_element("css selector", ".shown-count").text
    assert count == f"{len(hostile)} shown"
    _choose(browser, "filter-category", "")
    assert len(_visible(browser)) == len(everything)


def test_screenshot_of_the_page(browser: Any, report_file: Path) -> None:
    browser.execute_script("window.scrollTo(0, 0)")
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1280, min(int(height), 8000))
    shot = report_file.with_name("report.png")
    assert browser.save_screenshot(str(shot))
    with Image.open(shot) as image:
        assert image.width >= 1000 and image.height >= 1000
        # Not a blank page: many distinct colours (charts, thumbnails, text).
        assert len(image.convert("RGB").getcolors(1 << 20) or []) > 100
