"""Every shipped report in a real browser (headless Chromium, Debian's package) at 1280 px and 390 px.

No console errors, no network requests (the report is self-contained), no horizontal overflow of the
page body, the mobile viewport honoured; screenshots of the first screen and the whole page are written
under the test's tmp path (and copied to ``$IPSBAYES_SCREENSHOTS`` when that is set, for review).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from . import browser
from .conftest import SHIPPED

pytestmark = pytest.mark.sampling


@pytest.fixture(scope="module")
def chromium():
    if not browser.available():
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium chromium-driver)")
        pytest.skip("Chromium not installed (make install-browser)")
    with browser.Browser() as session:
        yield session


@pytest.mark.parametrize("width", list(browser.WIDTHS))
@pytest.mark.parametrize("name", SHIPPED)
def test_report_in_a_real_browser(chromium, shipped: dict[str, Path], name: str, width: str, tmp_path: Path) -> None:
    page = chromium.check(shipped[name] / "report.html", width, tmp_path / "screenshots")
    review = os.environ.get("IPSBAYES_SCREENSHOTS")
    if review:
        Path(review).mkdir(parents=True, exist_ok=True)
        for shot in (page.screenshot, page.full_page):
            shutil.copy(shot, Path(review) / shot.name)
    assert page.console_errors == []
    assert page.requests == []
    assert not page.overflows, f"page body {page.scroll_width}px wide in a {page.client_width}px viewport"
    assert page.client_width == browser.WIDTHS[width][0]  # the viewport meta tag is honoured on phones
    assert page.screenshot.stat().st_size > 5000 and page.full_page.stat().st_size > 5000
