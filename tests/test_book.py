"""The book's notebooks follow the course conventions (cheap static checks)."""

import re

import pytest
from notebooks import (
    BOOK,
    CHAPTERS,
    MYST,
    NOTEBOOKS,
    ROOT,
    cells,
    recorded_names,
    said_names,
    said_templates,
    source,
    tagged,
)

from rnnlab import tags


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in NOTEBOOKS:
        assert f"book/{nb.stem}" in toc, f"{nb.name} is missing from _toc.yml"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(nb):
    for c in cells(nb):
        if c["cell_type"] == "code":
            assert not c.get("outputs") and c.get("execution_count") is None, \
                f"{nb.name} has outputs: clear them before committing"


def test_the_repository_url_is_written_in_one_place():
    """src/rnnlab/_repository.py; the pages' setup cells are written from it by
    `tools/release.py setup-cells` (and checked against it by test_colab.py)."""
    import subprocess

    from rnnlab._repository import REPOSITORY

    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    path = REPOSITORY.removeprefix("https://github.com/")
    holders = {n for n in names if (ROOT / n).is_file()
               and path in (ROOT / n).read_text(encoding="utf-8", errors="ignore")}
    assert holders - {n for n in names if n.startswith("book/") and n.endswith(".ipynb")} \
        == {"src/rnnlab/_repository.py"}, sorted(holders)
    assert "repository:" not in (ROOT / "_config.yml").read_text()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_page_starts_with_a_title_setup_and_the_page_header(nb):
    all_cells = cells(nb)
    assert source(all_cells[0]).startswith("# "), f"{nb.name} must start with a '# Title'"
    assert tags.has(all_cells[1], tags.SETUP), "then the setup cell"
    code = "\n".join(source(c) for c in all_cells if c["cell_type"] == "code")
    assert re.search(r'start_page\("\w+"\)', code), "start_page() reports device and budget"
    assert source(all_cells[-1]).rstrip().endswith(("page.finish()", 'page.finish(".1f")'))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_result_said_is_recorded_and_every_recorded_result_is_said(nb):
    """A shown result that no cell computes, or a computed result never shown, fails."""
    code = "\n".join(source(c) for c in cells(nb) if c["cell_type"] == "code")
    said = set(said_names(code))
    recorded, patterns = recorded_names(code)
    recorded |= {"device", "budget"}
    unknown = {n for n in said - recorded if not any(re.fullmatch(p, n) for p in patterns)}
    assert not unknown, f"{nb.name} says results no cell records: {sorted(unknown)}"
    unsaid = recorded - said - {"device", "budget"}
    assert not unsaid, f"{nb.name} records results it never says: {sorted(unsaid)}"
    for p in patterns:
        assert any(re.fullmatch(p, n) for n in said), f"{nb.name}: {p} is never said"
    # ... and recorded before it is said, in the order "Run all" runs the cells.
    so_far: set[str] = {"device", "budget"}
    loops: list[str] = []
    for c in cells(nb):
        if c["cell_type"] != "code":
            continue
        names, cell_patterns = recorded_names(source(c))
        so_far |= names
        loops += cell_patterns
        for name in said_names(source(c)):
            assert name in so_far or any(re.fullmatch(p, name) for p in loops), \
                f"{nb.name}: {{{{{name}}}}} is said before any cell records it"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_result_and_bookkeeping_cells_are_folded_everywhere(nb):
    """What the run measured is said by folded result cells: a Colab form, hidden source in
    JupyterLab, input removed on the website."""
    for c in cells(nb):
        if c["cell_type"] != "code":
            continue
        text, meta = source(c), c["metadata"]
        if "page.say(" in text:
            assert tags.has(c, tags.RESULT), f"{nb.name}: a cell that says results is tagged result"
        if tags.has(c, tags.RESULT) or tags.has(c, tags.REMOVE_INPUT):
            where = f"{nb.name}, cell starting {text[:60]!r}"
            assert tags.has(c, tags.REMOVE_INPUT), f"{where}: website: tag remove-input"
            assert meta.get("jupyter", {}).get("source_hidden"), f"{where}: JupyterLab"
            assert meta.get("cellView") == "form" and text.startswith("#@title"), \
                f"{where}: Colab form (#@title and cellView: form)"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_solutions_are_hidden(nb):
    for c in tagged(nb, tags.SOLUTION):
        meta = c["metadata"]
        assert tags.has(c, tags.HIDE_INPUT), "website: the solution's code must be folded"
        assert meta.get("jupyter", {}).get("source_hidden"), "JupyterLab: source_hidden"
        assert meta.get("cellView") == "form" and source(c).startswith("#@title"), "Colab form"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_tag_has_one_meaning_in_the_registry(nb):
    """rnnlab.tags is the one list of cell tags: a tag it lacks has no agreed meaning."""
    for c in cells(nb):
        unknown = set(tags.tags_of(c)) - set(tags.MEANINGS)
        assert not unknown, f"{nb.name}: tags {sorted(unknown)} are not in rnnlab.tags"
    with pytest.raises(ValueError, match="unknown cell tag"):
        tags.has(cells(nb)[0], "solutoin")


def test_book_pages_exist():
    assert (BOOK / "intro.md").exists() and (BOOK / "status.md").exists()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_page(nb):
    # The website shows about 88 characters of code per line (see _assets/custom.css);
    # folded cells (remove-input) show no code there.
    for c in cells(nb):
        if c["cell_type"] == "code" and not tags.has(c, tags.REMOVE_INPUT):
            for line in source(c).splitlines():
                assert len(line) <= 88, f"{nb.name}: line too long for the page:\n{line}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_cells_hold_no_myst_syntax(nb):
    """Colab and JupyterLab show a markdown cell as written: no roles, labels, directives."""
    for c in cells(nb):
        if c["cell_type"] == "markdown":
            found = MYST.search(source(c))
            assert not found, f"{nb.name}: MyST syntax {found.group(0)!r} in:\n{source(c)[:300]}"


def _anchors(page) -> set[str]:
    """The heading anchors of a page, as MyST makes them (myst_heading_anchors)."""
    from myst_parser.mdit_to_docutils.base import default_slugify

    heads = [line.lstrip("#").strip() for c in cells(page) if c["cell_type"] == "markdown"
             for line in source(c).splitlines() if line.startswith("#")]
    return {default_slugify(h) for h in heads}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_cross_references_are_markdown_links_that_resolve(nb):
    """Links between pages are plain Markdown links to the notebooks, which read as links in
    Colab and JupyterLab and which `jupyter-book build -n` resolves on the website."""
    own = nb.name[:2]
    for c in cells(nb):
        text = source(c)
        if c["cell_type"] == "code":
            if "page.say(" not in text:
                continue
            text = said_templates(text)
        for target, anchor in re.findall(r"\]\(([\w.-]+\.(?:ipynb|md))(?:#([\w-]+))?\)", text):
            page = BOOK / target
            assert page.exists(), f"{nb.name}: a link to a missing page {target}"
            if anchor:
                assert anchor in _anchors(page), f"{nb.name}: no heading #{anchor} in {target}"
        prose = re.sub(r"`[^`]*`", "", re.sub(r"\[[^\]]*\]\([^)]*\)", "", text))
        for n in re.findall(r"\b[Cc]hapter ([1-9])\b(?![.\d])", prose):
            assert f"0{n}" == own, f"{nb.name}: 'chapter {n}' without a link to it"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_no_wrapped_formula_starts_a_list_item(nb):
    """A line that continues inline math and starts with '+ ', '- ' or '* ' becomes a list
    item in Markdown, and the formula is shown raw."""
    for c in cells(nb):
        if c["cell_type"] != "markdown":
            continue
        open_math = False
        for line in source(c).splitlines():
            if open_math and re.match(r"\s*[-+*] ", line):
                pytest.fail(f"{nb.name}: a wrapped formula starts a list item: {line!r}")
            if line.strip() != "$$":
                open_math ^= line.replace("$$", "").count("$") % 2 == 1
