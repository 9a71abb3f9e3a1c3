"""The website as a reader sees it: every page opened in headless Chromium (see
browser_check.py). Runs where Debian's chromium is installed (`apt-get install chromium`)."""

import subprocess

import pytest
from browser_check import CHROMIUM, ROOT, check_site

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed "
                                 "(apt-get install -y chromium)")]


def test_every_page_in_a_real_browser():
    subprocess.run(["make", "book"], cwd=ROOT, check=True, capture_output=True, timeout=3000)
    report = check_site()
    assert len(report) >= 8, sorted(report)
    problems = {name: r["problems"] for name, r in report.items() if r["problems"]}
    assert not problems, problems
    chapters = {n: r for n, r in report.items() if n[:2].isdigit()}
    assert all(r["math"] > 0 for r in chapters.values()), "math missing on a chapter"
    assert sum(r["solutions"] for r in chapters.values()) >= 16, "solutions not found"
    assert sum(r["images"] for r in chapters.values()) >= 8, "figures missing"
