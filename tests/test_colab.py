"""Colab, simulated: a fresh virtual environment holding only what stock Colab has, a
stand-in `google.colab` module, no network, and the chapters' own setup cell installing
rnnlab (from this checkout instead of the repository URL) and d2l without its pins.

The environment is built by `make test` in `.venv-colab/` (the Makefile lists what it
holds), and the setup cell installs d2l from the wheel `make` keeps in `.venv/wheels/`:
there is no network during the test.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from environment import needs
from notebooks import BOOK, ROOT, source, tagged

SIM = ROOT / ".venv-colab"   # built by `make test` with only Colab's packages (Makefile)
WHEELS = Path(sys.prefix) / "wheels"
CHAPTERS_TO_RUN = ["01_recurrence.ipynb", "04_parameters.ipynb"]

DRIVER = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=1200, kernel_name="python3",
               resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
"""


def _sim_python() -> Path:
    needs(bool(list(WHEELS.glob("d2l-0.17.6-*.whl"))),
          f"no d2l wheel in {WHEELS}: `make test` downloads it")
    needs((SIM / ".ready").exists(),
          "the simulated Colab environment .venv-colab/ is missing: `make test` builds it "
          "before the tests (they run without a network)")
    return SIM / "bin" / "python"


def _colab_notebook(name: str, tmp: Path) -> Path:
    """The chapter with its setup cell pointed at this checkout instead of the URL."""
    nb = nbformat.read(BOOK / name, as_version=4)
    setup = tagged(BOOK / name, "setup")[0]
    for cell in nb.cells:
        if source(cell) == source(setup):
            url = cell.source.split("rnnlab @ ")[1].split('"')[0]
            cell.source = cell.source.replace(url, ROOT.as_uri())
    path = tmp / name
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("name", CHAPTERS_TO_RUN)
def test_chapter_runs_in_simulated_colab(name, tmp_path):
    start = time.perf_counter()
    python = _sim_python()
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON"))}
    env.update({
        "PATH": f"{SIM / 'bin'}:{env.get('PATH', '')}",
        "PYTHONPATH": f"{ROOT / 'tests' / 'colab_stub'}:{ROOT / 'tests' / 'offline'}",
        "RNNLAB_OFFLINE": "1", "RNNLAB_PROGRESS": "text",
        # The setup cell's pip must work without a network, like CI: local wheels only,
        # and the simulated runtime's own setuptools to build rnnlab.
        "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(WHEELS),
        "PIP_NO_BUILD_ISOLATION": "0",   # pip reads "0" here as "no isolation"
    })
    nb_in = _colab_notebook(name, tmp_path)
    nb_out = tmp_path / f"out-{name}"
    result = subprocess.run([str(python), "-c", DRIVER, str(nb_in), str(work), str(nb_out)],
                            env=env, capture_output=True, text=True, timeout=1500)
    assert result.returncode == 0, result.stderr[-3000:]
    executed = nbformat.read(nb_out, as_version=4)
    setup_out = "".join(o.get("text", "") for o in executed.cells[1].outputs)
    assert "ERROR" not in setup_out.upper(), setup_out
    check = subprocess.run([str(python), "-c",
                            "import rnnlab, d2l, torch; print(rnnlab.__file__, torch.__version__)"],
                           env=env, capture_output=True, text=True)
    assert "2.13.0" in check.stdout, "Colab's own torch must stay as it was"
    assert str(SIM) in check.stdout, "rnnlab must be installed into the simulated runtime"
    print(f"{name}: simulated Colab run took {time.perf_counter() - start:.0f} s")
