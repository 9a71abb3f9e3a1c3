"""The built website's links: every internal link and anchor must resolve.

Reads every HTML file of a built site (no browser, no network) and checks each `href` and
`src` that stays inside the site: the file it names exists, and the `#anchor` it names is
an `id` (or an `<a name>`) on that page. Links that leave the site (http, https, //host)
are listed, not fetched: tests run offline. `jupyter-book build . --builder linkcheck`
fetches them where the network is allowed.

    python tests/site_links.py [_build/html]     # `make book` runs this after building

Exits 1 and names each broken link (page, line, target) if there is any.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
# Not links to check: the page itself (`#`), and schemes that are not a place to go.
_NOT_PLACES = ("mailto:", "javascript:", "data:", "tel:")


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[int, str]] = []          # (line, target)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v for k, v in attrs if v is not None}
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            self.ids.add(a["name"])
        for key in ("href", "src"):
            if a.get(key):
                self.links.append((self.getpos()[0], a[key].strip()))


@dataclass
class Report:
    pages: int = 0
    internal: int = 0
    broken: list[str] = field(default_factory=list)          # "page:line: target (why)"
    external: dict[str, list[str]] = field(default_factory=dict)   # url -> pages


def _read(path: Path, cache: dict[Path, _Page]) -> _Page:
    if path not in cache:
        page = _Page()
        page.feed(path.read_text(encoding="utf-8", errors="replace"))
        cache[path] = page
    return cache[path]


def check_site(site: Path = SITE) -> Report:
    """Check every internal link and anchor of the site built in `site`."""
    site = Path(site).resolve()
    # Pages, not the theme's Jinja fragments that Sphinx copies into _static/ as they are.
    pages = sorted(p for p in site.rglob("*.html") if "_static" not in p.relative_to(site).parts)
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {site}: build the site first (make book)")
    cache: dict[Path, _Page] = {}
    report = Report(pages=len(pages))
    for path in pages:
        rel = path.relative_to(site)
        for line, target in _read(path, cache).links:
            where = f"{rel}:{line}: {target}"
            if target.startswith(_NOT_PLACES) or target == "#":
                continue
            parts = urlsplit(target)
            if parts.scheme or parts.netloc:
                report.external.setdefault(target, []).append(str(rel))
                continue
            report.internal += 1
            dest = path if not parts.path else (path.parent / unquote(parts.path)).resolve()
            if dest.is_dir():
                dest = dest / "index.html"
            if site not in dest.parents and dest != site:
                report.broken.append(f"{where} (outside the site)")
            elif not dest.is_file():
                report.broken.append(f"{where} (no such file)")
            elif parts.fragment and dest.suffix == ".html":
                if unquote(parts.fragment) not in _read(dest, cache).ids:
                    report.broken.append(f"{where} (no anchor #{parts.fragment} there)")
    return report


def build_without_execution(source: Path, out: Path,
                            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Build the book in `source` into `out/_build/html` with `-W -n`, as `make book` does
    but without executing the notebooks (seconds instead of minutes)."""
    import yaml

    config = yaml.safe_load((source / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "off"
    # A config file elsewhere reads its local extensions relative to itself.
    config["sphinx"]["local_extensions"] = {
        name: str(source / path) for name, path in config["sphinx"]["local_extensions"].items()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "_config.yml").write_text(yaml.safe_dump(config))
    return subprocess.run(
        [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source),
         "--path-output", str(out), "--config", str(out / "_config.yml"), "-W", "-n",
         "--keep-going"], capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})})


def main(argv: list[str]) -> int:
    site = Path(argv[0]) if argv else SITE
    report = check_site(site)
    listing = site.parent / "external-links.txt"
    listing.write_text("".join(f"{url}\t{', '.join(sorted(set(pages)))}\n"
                               for url, pages in sorted(report.external.items())))
    print(f"{report.pages} pages, {report.internal} internal links checked, "
          f"{len(report.broken)} broken; {len(report.external)} external links listed in "
          f"{listing} (not fetched)")
    for problem in report.broken:
        print("  broken:", problem)
    return 1 if report.broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
