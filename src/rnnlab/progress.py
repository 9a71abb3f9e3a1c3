"""Progress bars that read well in a notebook, on the website and in a log.

`progress(iterable, desc=...)` is `tqdm.auto.tqdm`: a widget bar in Jupyter and Colab.
Where no one watches live (the website build, CI logs) set `RNNLAB_PROGRESS=text`: a plain
text bar that updates rarely, so the page or log shows a line or two, not hundreds.
`RNNLAB_PROGRESS=off` hides the bars.
"""

from __future__ import annotations

import os
import sys

PROGRESS_ENV = "RNNLAB_PROGRESS"


def progress(iterable=None, desc: str | None = None, disable: bool = False, **kwargs):
    """A tqdm progress bar over `iterable` whose style follows `$RNNLAB_PROGRESS`."""
    mode = os.environ.get(PROGRESS_ENV, "auto").strip().lower()
    if mode not in ("auto", "text", "off"):
        raise ValueError(f"${PROGRESS_ENV} must be 'auto', 'text' or 'off', got {mode!r}")
    if mode == "text":
        from tqdm import tqdm

        # No bar graphic: a short line at the start and one at the end (plus one per 30 s).
        kwargs = {"file": sys.stdout, "mininterval": 30.0,
                  "bar_format": "{desc}: {n_fmt}/{total_fmt} [{elapsed}{postfix}]", **kwargs}
        return tqdm(iterable, desc=desc, disable=disable, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, disable=disable or mode == "off", **kwargs)
