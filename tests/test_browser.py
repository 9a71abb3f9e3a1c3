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


def test_the_raw_syntax_rule_can_fail():
    """The browser rule finds raw math, roles and a bullet born from a wrapped formula."""
    from browser_check import ARGS, RAW_SYNTAX
    from playwright.sync_api import sync_playwright

    html = """<article><p>A loss of {glue:text}`ch1_loss` and $h_t = \\tanh(x)$ raw.</p>
    <ul><li>b_h)$, and chapter 1 measured</li></ul>
    <p>Typeset: <span class="math"><mjx-container>x</mjx-container></span></p></article>"""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.set_content(html)
        found = page.evaluate(RAW_SYNTAX)
        page.set_content("<article><p>Clean prose, <code>$x$</code> in code.</p></article>")
        clean = page.evaluate(RAW_SYNTAX)
        browser.close()
    assert any("{glue" in f for f in found) and any("$h_t" in f for f in found)
    assert any(f.startswith("list item") for f in found) and clean == []
