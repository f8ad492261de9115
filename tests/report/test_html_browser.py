"""The history report in a real headless browser (Debian's chromium): its screenshot
shows the charts, and its DOM links every change point to its commit."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from ci_tools.compare import cost
from ci_tools.history import changes, series
from ci_tools.report import html

import history_fake as hf

TEMPLATE = "https://git.example.invalid/kernel/commit/{commit}"


def _chromium(page: Path, tmp_path: Path, *args: str) -> str:
    chromium = shutil.which("chromium")
    assert chromium, "chromium is missing: `python -m ci_tools setup --tests` installs it"
    done = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return done.stdout


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.change_points: list[tuple[str, str]] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and "change-point" in (a.get("class") or ""):
            self.change_points.append((a["data-commit"] or "", a["href"] or ""))
        if tag in ("script", "img", "link", "iframe") or a.get("src"):
            self.external.append(tag)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The Linux guest first: its boots spread, so its charts show spread bars.
    laid_out = series.build(
        [series.Run.of(r) for r in hf.history(profiles=("linux", *hf.PROFILES))]
    )
    latest = series.latest(laid_out)
    reference = latest.pop("linux")
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html.report(
        laid_out, changes.steps(laid_out), commit_url=TEMPLATE, generated="test history",
        cost=cost.cost_table(reference, list(latest.values())),
    ))  # fmt: skip
    return path


@pytest.mark.integration
def test_the_dom_links_each_change_point_to_its_commit(page: Path, tmp_path: Path) -> None:
    dom = _chromium(page, tmp_path, "--dump-dom")
    links = _Links()
    links.feed(dom)
    expected = {(hf.sha(at), TEMPLATE.format(commit=hf.sha(at))) for at, _, _ in hf.STEPS}
    assert set(links.change_points) == expected
    assert len(links.change_points) == len(hf.STEPS)  # one marker per step, none elsewhere
    assert links.external == []  # nothing to fetch: viewable from a file, offline
    assert "Cost of each profile now" in dom and "2,172 (38.28x)" in dom


@pytest.mark.integration
def test_the_screenshot_shows_the_charts(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    _chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1000,2400")
    image = Image.open(shot).convert("RGB")
    assert image.size == (1000, 2400)
    colours = {c: n for n, c in image.getcolors(maxcolors=1 << 20) or []}
    assert len(colours) > 50, "the page is blank"

    def count(hex_colour: str) -> int:
        return colours.get(tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)), 0)

    assert count(html.LINE) > 500  # the median lines and their points
    assert count(html.SPREAD) > 500  # the spread bars
    assert count(html.MARK) > 200  # the change-point markers
