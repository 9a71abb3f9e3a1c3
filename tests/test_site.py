"""The built website: every internal link and anchor resolves (tests/site_links.py).

`make book` checks the site it builds, with every notebook executed. Here, in `make test`,
the site is built without executing the notebooks (10 seconds instead of 10 minutes): that
covers every link written in a markdown cell, the table of contents, the theme's own links
and the downloadable notebooks. Links inside results (a result cell's Markdown output) are
checked against the notebooks' headings by tests/test_book.py."""

import pytest
from notebooks import CHAPTERS, ROOT
from site_links import build_without_execution, check_site

from rnnlab._repository import REPOSITORY
from rnnlab._version import __version__
from rnnlab.pages import source_ref


def _page(path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<html><body>{body}</body></html>")


def test_the_link_check_reports_missing_pages_and_anchors(tmp_path):
    site = tmp_path / "html"
    _page(site / "index.html",
          '<a href="book/a.html#here">ok</a> <a href="book/a.html#gone">anchor</a>'
          '<a href="book/missing.html">page</a> <img src="../secret.png">'
          '<a href="#">top</a> <a href="mailto:x@y.z">mail</a>'
          '<a href="https://pytorch.org/docs">out</a> <a href="book/">dir</a>'
          '<a href="book/a.html?x=1#named">named</a>')
    _page(site / "book" / "a.html",
          '<h2 id="here">Here</h2><a name="named"></a><a href="../index.html#top">up</a>')
    _page(site / "book" / "index.html", '<script src="../_static/x.js"></script>')
    (site / "_static").mkdir()
    _page(site / "_static" / "template.html", "<a href=\"{{ pathto('x') }}\">not a page</a>")
    report = check_site(site)
    assert report.pages == 3
    reasons = sorted(b.split(" (")[-1] for b in report.broken)
    assert reasons == ["no anchor #gone there)", "no anchor #top there)",
                       "no such file)", "no such file)", "outside the site)"], report.broken
    assert list(report.external) == ["https://pytorch.org/docs"]


def test_no_site_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="make book"):
        check_site(tmp_path)


@pytest.mark.slow
def test_every_internal_link_and_anchor_of_the_built_site_resolves(tmp_path):
    build = build_without_execution(ROOT, tmp_path)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    site = tmp_path / "_build" / "html"
    report = check_site(site)
    assert not report.broken, "\n".join(report.broken)
    for nb in CHAPTERS:
        assert (site / "book" / f"{nb.stem}.html").is_file()
    assert report.pages >= len(CHAPTERS) + 3 and report.internal > 500
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()   # served offline
    # The repository and the release, from their one place each (_ext/pin_setup.py).
    page = (site / "book" / f"{CHAPTERS[0].stem}.html").read_text()
    path = REPOSITORY.removeprefix("https://github.com/")
    colab = f"colab.research.google.com/github/{path}/blob/{source_ref()}/book/"
    assert colab + CHAPTERS[0].name in page
    assert f'href="{REPOSITORY}"' in page
    assert f"This site shows rnnlab {__version__}, a" in page
