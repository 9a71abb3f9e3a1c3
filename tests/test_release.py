"""The release command (tools/release.py, `make release VERSION=X.Y.Z`), dry-run in a
scratch copy of this checkout: it makes the release commit and the tag, dates the changelog,
builds a wheel that installs, and starts the next development version; it refuses a release
it cannot make before changing anything."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from notebooks import ROOT

from rnnlab import tags

pytestmark = pytest.mark.slow
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "Release Test", "GIT_AUTHOR_EMAIL": "r@test",
           "GIT_COMMITTER_NAME": "Release Test", "GIT_COMMITTER_EMAIL": "r@test"}


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=cwd, env=GIT_ENV, capture_output=True, text=True,
                          timeout=600)


def _git(cwd: Path, *args: str) -> str:
    out = _run(cwd, "git", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _release(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(cwd, sys.executable, "tools/release.py", *args)


def _setup_lines(repo: Path, ref: str) -> list[str]:
    """The install line of every page's setup cell, as committed at `ref`."""
    lines = []
    for name in _git(repo, "ls-tree", "--name-only", ref, "book/").split():
        if name.endswith(".ipynb"):
            nb = json.loads(_git(repo, "show", f"{ref}:{name}"))
            (cell,) = [c for c in nb["cells"] if tags.has(c, tags.SETUP)]
            lines += [line for line in "".join(cell["source"]).splitlines() if "rnnlab @" in line]
    return lines


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """This checkout's files (committed or not, ignored ones left out) in a new repository."""
    repo = tmp_path_factory.mktemp("scratch")
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        src = ROOT / os.fsdecode(name)
        if src.is_file():
            (repo / src.relative_to(ROOT)).parent.mkdir(parents=True, exist_ok=True)
            (repo / src.relative_to(ROOT)).write_bytes(src.read_bytes())
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "the checkout")
    return repo


@pytest.fixture(scope="module")
def released(repo) -> tuple[Path, str, subprocess.CompletedProcess]:
    """The scratch repository after `tools/release.py 0.2.0` (once per test process)."""
    before = (repo / "CHANGELOG.md").read_text()
    return repo, before, _release(repo, "0.2.0", "--date", "2026-12-05")


def test_a_dry_run_tags_dates_builds_and_starts_the_next_version(released, tmp_path):
    repo, before, out = released
    assert "## Unreleased" in before
    assert out.returncode == 0, out.stdout + out.stderr
    assert "tagged v0.2.0" in out.stdout and "git push origin main v0.2.0" in out.stdout
    # The tag is on the release commit, the commit after it starts 0.3.0.dev0.
    assert _git(repo, "log", "--format=%s", "-3").splitlines() == [
        "Start 0.3.0.dev0", "Release 0.2.0", "the checkout"]
    assert _git(repo, "rev-parse", "v0.2.0^{commit}") == _git(repo, "rev-parse", "HEAD~1")
    assert _git(repo, "cat-file", "-t", "v0.2.0") == "tag"                # annotated
    assert '__version__ = "0.2.0"' in _git(repo, "show", "v0.2.0:src/rnnlab/_version.py")
    assert '__version__ = "0.3.0.dev0"' in (repo / "src/rnnlab/_version.py").read_text()
    # At the tag, every page installs the tag; after it, the branch again.
    at_tag, after = _setup_lines(repo, "v0.2.0"), _setup_lines(repo, "HEAD")
    assert len(at_tag) == len(list((repo / "book").glob("*.ipynb"))) >= 8
    assert all(line.endswith('@v0.2.0"') for line in at_tag), at_tag
    assert all(line.endswith('@main"') for line in after), after
    # The changelog: the Unreleased entries became 0.2.0's, dated; a new empty Unreleased.
    entries = [line for line in before.splitlines() if line.startswith("- ")]
    tagged = _git(repo, "show", "v0.2.0:CHANGELOG.md")
    assert "## 0.2.0 (2026-12-05)" in tagged and "## Unreleased" not in tagged
    assert all(line in tagged for line in entries)
    now = (repo / "CHANGELOG.md").read_text()
    assert now.index("## Unreleased (0.3.0.dev0)") < now.index("## 0.2.0 (2026-12-05)")
    # The wheel installs on its own and is 0.2.0, with the text it ships.
    wheel = repo / "dist" / "rnnlab-0.2.0-py3-none-any.whl"
    assert wheel.is_file() and (repo / "dist" / "rnnlab-0.2.0.tar.gz").is_file()
    site = tmp_path / "site"
    installed = _run(repo, sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                     "--no-index", "--target", str(site), str(wheel))
    assert installed.returncode == 0, installed.stderr
    probe = ("import rnnlab, pathlib; print(rnnlab.__version__, rnnlab.__file__, "
             "(pathlib.Path(rnnlab.__file__).parent / 'texts' / 'timemachine.txt').is_file())")
    shown = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(site)})
    shown = shown.stdout.split()
    assert shown[0] == "0.2.0" and shown[1].startswith(str(site)) and shown[2] == "True"


@pytest.mark.parametrize("args, dirty, why", [
    (["0.2"], False, "is not a release version X.Y.Z"),
    (["0.1.9"], False, "is not above the current version"),
    (["0.3.0"], True, "uncommitted changes"),
    (["0.3.0"], False, "no entries under '## Unreleased'"),
    (["0.3.0", "--next", "0.4.0"], False, "must be a development version"),
    (["0.3.0", "--next", "soon"], False, "is not a version"),
])
def test_a_release_that_cannot_be_made_is_refused_before_anything_changes(released, args,
                                                                           dirty, why):
    """After the dry run (at 0.3.0.dev0, with an empty Unreleased section)."""
    repo = released[0]
    readme = repo / "README.md"
    if dirty:
        readme.write_text(readme.read_text() + "\nan edit\n")
    head = _git(repo, "rev-parse", "HEAD")
    try:
        out = _release(repo, *args)
    finally:
        _git(repo, "checkout", "-q", "--", "README.md")
    assert out.returncode == 1 and why in out.stderr, out.stdout + out.stderr
    assert _git(repo, "rev-parse", "HEAD") == head and not _git(repo, "status", "--porcelain",
                                                                 "--untracked-files=no")


def test_the_release_builds_a_site_that_names_it_and_opens_its_tag_in_colab(released,
                                                                           tmp_path):
    """`git checkout v0.2.0 && make book`, without executing the notebooks: the footer names
    the release, "Open in Colab" opens the tag's notebooks, which install the tag."""
    import io
    import tarfile

    from site_links import build_without_execution

    from rnnlab._repository import REPOSITORY

    repo, tagged = released[0], tmp_path / "tagged"
    archive = subprocess.run(["git", "archive", "v0.2.0"], cwd=repo, capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tagged, filter="data")
    # The tag's own package (the editable install points at this checkout's src/).
    build = build_without_execution(tagged, tmp_path / "out",
                                    env={"PYTHONPATH": str(tagged / "src")})
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    site = tmp_path / "out" / "_build" / "html"
    page = (site / "book" / "01_recurrence.html").read_text()
    assert "This site shows rnnlab 0.2.0, the release tagged v0.2.0" in page
    path = REPOSITORY.removeprefix("https://github.com/")
    assert f"colab.research.google.com/github/{path}/blob/v0.2.0/book/01_recurrence.ipynb" \
        in page
    offered = (site / "_sources" / "book" / "01_recurrence.ipynb").read_text()
    assert f"git+{REPOSITORY}@v0.2.0" in offered
