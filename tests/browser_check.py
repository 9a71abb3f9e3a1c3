"""Open every page of the built website in headless Chromium and check what a reader sees.

    .venv/bin/python tests/browser_check.py            # after `make book`
    make browser-check                                  # builds, then checks

For every page: no console errors; every image loaded; math typeset by MathJax (served from
the site itself, so this works offline); no raw `$…$`, `{glue`, `{doc}` or `{{name}}`
in the prose, and no list item born from a wrapped formula; every solution hidden until
its toggle is clicked and shown after. A screenshot of each page goes to
_build/screenshots/. Needs Debian's `chromium` (apt-get install chromium) and the
`playwright` package (no browser download: it drives /usr/bin/chromium).
"""

from __future__ import annotations

import functools
import http.server
import shutil
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]


def pages() -> list[Path]:
    return sorted((HTML / "book").glob("*.html"))


def _serve(directory: Path):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check_site(screenshots: Path | None = None) -> dict[str, dict]:
    """{page name: {"problems": [...], "images": n, "math": n, "solutions": n}}."""
    from playwright.sync_api import sync_playwright

    if not pages():
        raise FileNotFoundError(f"no built pages under {HTML}: run `make book` first")
    screenshots = screenshots or ROOT / "_build" / "screenshots"
    screenshots.mkdir(parents=True, exist_ok=True)
    server = _serve(HTML)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    report: dict[str, dict] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for page_path in pages():
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors: list[str] = []
                page.on("console", lambda m, errors=errors: errors.append(m.text)
                        if m.type == "error" and "404" not in m.text else None)
                # A missing resource is reported by URL (the console message has none);
                # browsers ask for /favicon.ico on their own, which the site need not have.
                page.on("response", lambda r, errors=errors: errors.append(
                    f"{r.status} for {r.url}") if r.status >= 400
                    and not r.url.endswith("favicon.ico") else None)
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                page.goto(f"{base}/book/{page_path.name}", wait_until="networkidle")
                report[page_path.name] = _problems(page, errors)
                page.screenshot(path=str(screenshots / f"{page_path.stem}.png"), full_page=True)
                page.close()
            browser.close()
    finally:
        server.shutdown()
    return report


# What a reader must never see in the prose: MyST roles shown raw, math MathJax did not
# typeset ($ left in the text), and a list item born from a wrapped formula (its text
# holds an odd number of $).
RAW_SYNTAX = r"""() => {
  const found = [];
  const article = document.querySelector("article") || document.body;
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    if (node.parentElement.closest("pre, code, script, style, mjx-container, .math")) continue;
    const text = node.textContent;
    const raw = /\{(glue|doc|ref)[:}]|\$[^$\s][^$]*\$|\{\{\s*\w+\s*\}\}/g;
    for (const hit of text.matchAll(raw)) found.push(hit[0].slice(0, 60));
  }
  for (const li of article.querySelectorAll("li")) {
    const text = li.cloneNode(true);
    text.querySelectorAll("pre, code, mjx-container, .math").forEach(e => e.remove());
    if ((text.textContent.match(/\$/g) || []).length % 2 === 1)
      found.push("list item: " + li.textContent.trim().slice(0, 60));
  }
  return found;
}"""


def _problems(page, errors: list[str]) -> dict:
    problems = [f"console error: {e}" for e in errors]
    broken = page.eval_on_selector_all(
        "img", "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)")
    problems += [f"image not loaded: {src}" for src in broken]
    if page.locator(".math").count():
        try:
            page.wait_for_selector("mjx-container", timeout=15_000)
        except Exception:
            problems.append("math is not typeset (no MathJax output)")
        if page.locator(".math:not(:has(mjx-container))").count():
            problems.append("some math was left untypeset")
    problems += [f"raw syntax shown: {text}" for text in page.evaluate(RAW_SYNTAX)]
    toggles = page.locator("details.hide.above-input")
    for i in range(toggles.count()):
        details = toggles.nth(i)
        code = details.locator("pre").first
        if code.is_visible():
            problems.append(f"solution {i + 1} is visible before its toggle is clicked")
        details.locator("summary").click()
        if not code.is_visible():
            problems.append(f"solution {i + 1} stays hidden after its toggle is clicked")
    return {"problems": problems, "images": page.locator("img").count(),
            "math": page.locator("mjx-container").count(), "solutions": toggles.count()}


def main() -> int:
    report = check_site()
    bad = {name: r for name, r in report.items() if r["problems"]}
    for name, r in report.items():
        print(f"{'FAIL' if r['problems'] else 'ok  '} {name:30s} {r['images']:3d} images, "
              f"{r['math']:4d} formulas typeset, {r['solutions']:2d} solutions toggled")
        for problem in r["problems"]:
            print(f"     - {problem}")
    print(f"{len(report)} pages checked, {len(bad)} with problems; screenshots in "
          f"{ROOT / '_build' / 'screenshots'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
