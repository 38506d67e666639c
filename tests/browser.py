"""Open a report in headless Chromium (Debian's chromium + chromedriver, driven by selenium).

Used by ``test_browser.py`` and runnable by hand to take review screenshots::

    python -m tests.browser runs/ipsung_employment/report.html --out screenshots/
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMEDRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
#: desktop and phone widths every report is checked at (CSS pixels)
WIDTHS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
#: full-page screenshots are cut at this height (CSS pixels)
FULL_PAGE_MAX = 12000
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def find(candidates: tuple[str, ...]) -> str | None:
    """The first existing executable of ``candidates``."""
    return next((c for c in candidates if Path(c).is_file()), None)


def available() -> bool:
    """Whether the system Chromium and its driver are installed (``make install-browser``)."""
    return find(CHROMIUM) is not None and find(CHROMEDRIVER) is not None


@dataclass
class PageCheck:
    """What a report looked like at one width."""

    width: int
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    scroll_width: int = 0
    client_width: int = 0
    screenshot: Path | None = None
    full_page: Path | None = None

    @property
    def overflows(self) -> bool:
        """True when the page body is wider than the viewport (horizontal scrolling of the whole page)."""
        return self.scroll_width > self.client_width


class Browser:
    """A headless Chromium with a fresh profile; use as a context manager."""

    def __init__(self) -> None:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self.profile = Path(tempfile.mkdtemp(prefix="ipsbayes-chromium-"))
        options = webdriver.ChromeOptions()
        options.binary_location = find(CHROMIUM) or CHROMIUM[0]
        for flag in (*FLAGS, f"--user-data-dir={self.profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        service = Service(executable_path=find(CHROMEDRIVER) or CHROMEDRIVER[0])
        self.driver = webdriver.Chrome(service=service, options=options)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def check(self, page: Path, name: str, out: Path) -> PageCheck:
        """Open ``page`` at the width ``name`` (see :data:`WIDTHS`); measure it and take screenshots into ``out``."""
        width, height, mobile = WIDTHS[name]
        driver = self.driver
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
        )
        driver.get_log("browser")
        driver.get_log("performance")  # drop what earlier pages logged
        url = page.resolve().as_uri()
        driver.get(url)
        driver.execute_script("return document.fonts ? document.fonts.ready : null")
        result = PageCheck(width=width)
        result.console_errors = [
            entry["message"] for entry in driver.get_log("browser") if entry.get("level") in {"SEVERE", "ERROR"}
        ]
        for entry in driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                requested = message["params"]["request"]["url"]
                if not requested.startswith("data:") and requested != url:
                    result.requests.append(requested)
        result.scroll_width, result.client_width = driver.execute_script(
            "const e = document.documentElement;"
            "return [Math.max(e.scrollWidth, document.body.scrollWidth), e.clientWidth];"
        )
        out.mkdir(parents=True, exist_ok=True)
        result.screenshot = out / f"{page.parent.name}_{name}.png"
        driver.save_screenshot(str(result.screenshot))
        size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": width, "height": min(FULL_PAGE_MAX, size["height"]), "scale": 1}
        full = driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"captureBeyondViewport": True, "format": "png", "clip": clip}
        )
        result.full_page = out / f"{page.parent.name}_{name}_full.png"
        result.full_page.write_bytes(base64.b64decode(full["data"]))
        return result


def main(argv: list[str] | None = None) -> int:
    """Check reports and write screenshots: ``python -m tests.browser REPORT.html ... --out DIR``."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("pages", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--widths", nargs="*", default=list(WIDTHS))
    args = parser.parse_args(argv)
    with Browser() as browser:
        for page in args.pages:
            for name in args.widths:
                result = browser.check(page, name, args.out)
                print(
                    f"{page.parent.name} {name} {result.width}px: console errors {len(result.console_errors)}, "
                    f"requests {len(result.requests)}, body {result.scroll_width}/{result.client_width}px, "
                    f"{'OVERFLOWS' if result.overflows else 'no overflow'} -> {result.screenshot}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
