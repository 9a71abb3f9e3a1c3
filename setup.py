"""pyproject.toml holds the package's metadata. This file adds the one field it cannot read
from the package: the project URLs, made from src/rnnlab/_repository.py, the one place the
repository URL is written."""

import re
from pathlib import Path

from setuptools import setup

_text = (Path(__file__).resolve().parent / "src" / "rnnlab" / "_repository.py").read_text()
_url = re.search(r'^REPOSITORY = "([^"]+)"', _text, re.M).group(1)
_branch = re.search(r'^BRANCH = "([^"]+)"', _text, re.M).group(1)

setup(project_urls={"Homepage": _url, "Source": _url,
                    "Changelog": f"{_url}/blob/{_branch}/CHANGELOG.md"})
