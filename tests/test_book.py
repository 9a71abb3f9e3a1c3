"""The book's notebooks follow the course conventions (cheap static checks)."""

import re

import pytest
from notebooks import BOOK, CHAPTERS, NOTEBOOKS, ROOT, cells, source, tagged


def _config_url() -> str:
    text = (ROOT / "_config.yml").read_text()
    match = re.search(r"^repository:\s*\n\s+url:\s*(\S+)", text, re.M)
    assert match, "_config.yml has no repository.url"
    return match.group(1)


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


def test_the_package_and_the_config_name_the_same_repository():
    from rnnlab.pages import REPOSITORY

    assert _config_url() == REPOSITORY


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_page_starts_with_a_title_setup_and_the_page_header(nb):
    all_cells = cells(nb)
    assert source(all_cells[0]).startswith("# "), f"{nb.name} must start with a '# Title'"
    assert "setup" in all_cells[1]["metadata"].get("tags", []), "then the setup cell"
    code = "\n".join(source(c) for c in all_cells if c["cell_type"] == "code")
    assert re.search(r'start_page\("\w+"\)', code), "start_page() reports device and budget"
    assert source(all_cells[-1]).rstrip().endswith(("page.finish()", 'page.finish(".1f")'))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glued_name_in_the_prose_is_glued_by_the_code(nb):
    prose = "\n".join(source(c) for c in cells(nb) if c["cell_type"] == "markdown")
    code = "\n".join(source(c) for c in cells(nb) if c["cell_type"] == "code")
    used = set(re.findall(r"\{glue:\w+\}`([\w-]+)", prose))
    glued = set(re.findall(r"glue\(\s*\"([\w-]+)\"", code))
    for prefix in re.findall(r'start_page\("(\w+)"\)', code):    # rnnlab.pages.Page
        glued |= {f"{prefix}_device", f"{prefix}_budget", f"{prefix}_runtime"}
    # Names made in a loop, glue(f"ch3_{key}_ratio", ...): each {...} stands for a word.
    patterns = [re.sub(r"\\\{[^}]*\\\}", r"[\\w-]+", re.escape(p))
                for p in re.findall(r"glue\(\s*f\"([^\"]+)\"", code)]
    missing = {n for n in used - glued if not any(re.fullmatch(p, n) for p in patterns)}
    assert not missing, f"{nb.name} uses unglued names: {sorted(missing)}"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.name)
def test_solutions_are_hidden(nb):
    for c in tagged(nb, "solution"):
        meta = c["metadata"]
        assert "hide-input" in meta["tags"], "website: the solution's code must be folded"
        assert meta.get("jupyter", {}).get("source_hidden"), "JupyterLab: source_hidden"
        assert meta.get("cellView") == "form" and source(c).startswith("#@title"), "Colab form"


def test_book_pages_exist():
    assert (BOOK / "intro.md").exists() and (BOOK / "status.md").exists()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_page(nb):
    # The website shows about 88 characters of code per line (see _assets/custom.css).
    for c in cells(nb):
        if c["cell_type"] == "code":
            for line in source(c).splitlines():
                assert len(line) <= 88, f"{nb.name}: line too long for the page:\n{line}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_cross_references_are_myst_roles(nb):
    """Links between pages are {doc}/{ref} roles, so `jupyter-book build -n` checks them."""
    own = nb.name[:2]
    for c in cells(nb):
        if c["cell_type"] != "markdown":
            continue
        text = re.sub(r"\{(doc|ref)\}`[^`]*`", "", source(c))      # roles are fine
        text = re.sub(r"`[^`]*`", "", text)                           # so is code
        assert not re.search(r"\]\([^)]*\.(ipynb|md)\b", text), \
            f"{nb.name}: a markdown link to a page; use {{doc}}`...`:\n{source(c)[:300]}"
        for n in re.findall(r"\b[Cc]hapter ([1-9])\b(?![.\d])", text):
            assert f"0{n}" == own, f"{nb.name}: 'chapter {n}' without a {{doc}} link"
