"""A tiny Sphinx extension: what the website says about where it comes from.

- The repository (`rnnlab._repository.REPOSITORY`, its one place): the theme's repository
  button and its "Open in Colab" buttons point there, at the git ref of this version (the
  branch `BRANCH`, or the tag of a release).
- The release: every page's footer names the package version the site shows and the commit
  it was built from; `{{ build_version }}`, `{{ build_commit }}` and `{{ build_ref }}` (MyST
  substitutions) say the same on the build status page. `build_ref` is the git ref the
  chapters' setup cells install: `main` for a development version, `vX.Y.Z` for a release
  (`rnnlab.pages.source_ref`).
- The notebooks the site offers for download (`_sources/book/*.ipynb`) get a setup cell
  that installs rnnlab at exactly the commit built, so a downloaded chapter runs with the
  package it was built with.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def build_commit(root: Path) -> str | None:
    """HEAD's commit, or None outside a git checkout."""
    return _git(root, "rev-parse", "HEAD")


def release_words(version: str) -> str:
    """How the site names the version it shows."""
    from rnnlab.pages import source_ref

    ref = source_ref(version)
    if ref.startswith("v"):
        return f"rnnlab {version}, the release tagged {ref}"
    return f"rnnlab {version}, a development version (branch {ref}), not a release"


def _config_inited(app, config):
    from rnnlab._repository import REPOSITORY
    from rnnlab._version import __version__
    from rnnlab.pages import source_ref

    root = Path(app.confdir)
    commit = build_commit(root)
    dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    shown = "not a git checkout" if commit is None else commit[:12] + (
        " (with uncommitted changes)" if dirty else "")
    subs = dict(config.myst_substitutions or {})
    subs.update(build_commit=shown, build_ref=source_ref(), build_version=__version__)
    config.myst_substitutions = subs
    theme = dict(config.html_theme_options or {})
    # "Open in Colab" opens the notebook at the ref of this version: the branch, or the tag.
    theme.update(repository_url=REPOSITORY, repository_branch=source_ref(), path_to_docs="",
                 use_repository_button=True,
                 extra_footer=f"<p>This site shows {release_words(__version__)}; built from "
                              f"commit {shown}.</p>")
    config.html_theme_options = theme
    app.env_commit = commit


def _build_finished(app, exception):
    commit = getattr(app, "env_commit", None)
    if exception is not None or commit is None or app.builder.format != "html":
        return
    from rnnlab.pages import pin_setup_cell

    for path in sorted((Path(app.outdir) / "_sources").rglob("*.ipynb")):
        pin_setup_cell(path, commit)


def setup(app):
    app.connect("config-inited", _config_inited)
    app.connect("build-finished", _build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
