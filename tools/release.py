"""Make a release of the course package and website: `make release VERSION=X.Y.Z`.

What it does, in order (nothing is pushed; it prints the commands that publish):

1. Checks: no tracked file is changed, X.Y.Z is a plain release version above the current
   one, the tag vX.Y.Z does not exist, and CHANGELOG.md's "Unreleased" section has at
   least one entry.
2. The release commit: `src/rnnlab/_version.py` says X.Y.Z, every page's setup cell
   installs the tag vX.Y.Z, and the "Unreleased" heading of CHANGELOG.md becomes
   "X.Y.Z (date)".
3. Builds the sdist and the wheel from exactly that commit's files (`git archive`) into
   dist/ and runs `twine check` on them. Only if both pass is the commit tagged vX.Y.Z
   (annotated); otherwise the release commit is undone and the script stops.
4. The next development version (default X.(Y+1).0.dev0): `_version.py` says it, the setup
   cells install the branch again, and CHANGELOG.md gets an empty "Unreleased" section;
   a second commit.

Also:

    python tools/release.py setup-cells   # rewrite every page's setup cell for the current
                                          # version and repository (src/rnnlab/_repository.py)
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))          # this checkout's package, not another one

from packaging.version import InvalidVersion, Version  # noqa: E402

from rnnlab.pages import pin_setup_cell, source_ref  # noqa: E402

VERSION_FILE = ROOT / "src" / "rnnlab" / "_version.py"
CHANGELOG = ROOT / "CHANGELOG.md"
BOOK = ROOT / "book"
_VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.M)
_UNRELEASED = re.compile(r"^## Unreleased.*$", re.M)


class ReleaseError(Exception):
    """A check before the release failed; nothing was changed."""


def _git(*args: str, capture: bool = True) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=capture, text=True)
    if out.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed:\n{out.stderr}")
    return (out.stdout or "").strip()


def current_version() -> str:
    return _VERSION_LINE.search(VERSION_FILE.read_text()).group(1)


def _write_version(version: str) -> None:
    text = VERSION_FILE.read_text()
    VERSION_FILE.write_text(_VERSION_LINE.sub(f'__version__ = "{version}"', text))


def write_setup_cells(version: str) -> list[Path]:
    """Point every page's setup cell at the git ref of `version`; the pages it changed."""
    return [path for path in sorted(BOOK.glob("*.ipynb"))
            if pin_setup_cell(path, source_ref(version))]


def unreleased_entries(changelog: str) -> list[str]:
    """The entries ("- ..." lines) of the changelog's Unreleased section."""
    head = _UNRELEASED.search(changelog)
    if head is None:
        return []
    rest = changelog[head.end():]
    end = re.search(r"^## ", rest, re.M)
    section = rest[: end.start()] if end else rest
    return [line for line in section.splitlines() if line.startswith("- ")]


def _next_dev(version: str) -> str:
    return f"{Version(version).major}.{Version(version).minor + 1}.0.dev0"


def check(version: str, next_version: str | None = None) -> None:
    """Refuse a release that cannot be made (before anything changes)."""
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise ReleaseError(f"{version!r} is not a release version X.Y.Z (e.g. 0.2.0)")
    try:
        after = Version(next_version or _next_dev(version))
    except InvalidVersion:
        raise ReleaseError(f"{next_version!r} is not a version (e.g. 0.3.0.dev0)") from None
    if not (after > Version(version) and after.is_devrelease):
        raise ReleaseError(f"the next version {after} must be a development version above "
                           f"{version} (X.Y.Z.dev0)")
    if _git("status", "--porcelain", "--untracked-files=no"):
        raise ReleaseError("tracked files have uncommitted changes: commit or stash them")
    now = current_version()
    if Version(version) <= Version(now):
        raise ReleaseError(f"{version} is not above the current version {now}")
    if _git("tag", "--list", f"v{version}"):
        raise ReleaseError(f"the tag v{version} exists already")
    if not unreleased_entries(CHANGELOG.read_text()):
        raise ReleaseError("CHANGELOG.md has no entries under '## Unreleased': say what "
                           "this release changes first")


def _build(dist: Path) -> list[Path]:
    """Build the sdist and the wheel of HEAD's files (not the working tree) into `dist`."""
    version = current_version()
    for stale in dist.glob(f"rnnlab-{version}*"):      # left by an earlier, failed attempt
        stale.unlink()
    archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT,
                             capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                        str(dist), tmp], check=True, capture_output=True, text=True)
    built = sorted(dist.glob(f"rnnlab-{version}*"))
    subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, built)],
                   check=True, capture_output=True, text=True)
    return built


def release(version: str, next_version: str | None, date: str) -> list[Path]:
    check(version, next_version)
    next_version = next_version or _next_dev(version)
    start = _git("rev-parse", "HEAD")

    # The release commit.
    _write_version(version)
    pages = write_setup_cells(version)
    changelog = CHANGELOG.read_text()
    CHANGELOG.write_text(_UNRELEASED.sub(f"## {version} ({date})", changelog, count=1))
    _git("add", str(VERSION_FILE), str(CHANGELOG), *map(str, pages))
    _git("commit", "-q", "-m", f"Release {version}")
    try:
        built = _build(ROOT / "dist")
    except subprocess.CalledProcessError as err:
        _git("reset", "-q", "--hard", start)
        raise ReleaseError(f"the build failed, the release commit is undone:\n"
                           f"{err.stdout or ''}{err.stderr or ''}") from err
    _git("tag", "-a", f"v{version}", "-m", f"rnnlab {version}")

    # The next development version.
    _write_version(next_version)
    pages = write_setup_cells(next_version)
    changelog = CHANGELOG.read_text()
    CHANGELOG.write_text(changelog.replace(f"## {version} ({date})",
                                           f"## Unreleased ({next_version})\n\n"
                                           f"## {version} ({date})", 1))
    _git("add", str(VERSION_FILE), str(CHANGELOG), *map(str, pages))
    _git("commit", "-q", "-m", f"Start {next_version}")
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("version", help="X.Y.Z, or `setup-cells` to only rewrite them")
    parser.add_argument("--next", dest="next_version", help="the development version after "
                        "it (default: X.(Y+1).0.dev0)")
    parser.add_argument("--date", default=dt.date.today().isoformat(),
                        help="the release date written in CHANGELOG.md (default: today)")
    args = parser.parse_args(argv)
    try:
        if args.version == "setup-cells":
            changed = write_setup_cells(current_version())
            print(f"setup cells rewritten for {current_version()}: "
                  f"{', '.join(p.name for p in changed) or 'none changed'}")
            return 0
        built = release(args.version, args.next_version, args.date)
    except ReleaseError as err:
        print(f"release: {err}", file=sys.stderr)
        return 1
    tag = f"v{args.version}"
    commit = _git("rev-parse", "--short", tag + "^{commit}")
    print(f"Released {args.version}: commit {commit} tagged {tag}; now at {current_version()}.")
    for path in built:
        print(f"  built {path.relative_to(ROOT)}")
    print(f"Publish: git push origin {_git('branch', '--show-current') or 'HEAD'} {tag}")
    print(f"  (the site workflow deploys the website; "
          f"`twine upload dist/rnnlab-{args.version}*` puts the package on PyPI)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
