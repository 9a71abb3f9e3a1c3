"""Every page in Colab, simulated, with every exercise solved: a fresh virtual environment
holding only what stock Colab has (a torch/torchvision pair among them, see
tests/colab-requirements.txt), a stand-in `google.colab` module, no network, and the page's
own setup cell installing rnnlab — from this checkout, at the commit being tested, pinned
the way the cell pins its version — and d2l without its pins where the page uses d2l.

Each page is executed here once, solved; its shipped, unsolved state is executed by
nbmake (`pytest --nbmake book`). Every check cell must then say "passed".

The environment is built by `make test` in `.venv-colab/` and rebuilt only when
tests/colab-requirements.txt changes; the setup cell installs d2l from the wheel `make`
keeps in `.venv/wheels/`.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from environment import colab_venv_lock, needs
from notebooks import NOTEBOOKS, ROOT, check_verdicts, exercises, solved, tagged, uses_d2l
from test_pages_as_jupyter_shows_them import (
    jupyter_text,
    myst_in_markdown_outputs,
    result_cells_without_markdown,
)

from rnnlab import tags
from rnnlab.pages import REPOSITORY, source_ref

SIM = ROOT / ".venv-colab"   # built by `make test` with only Colab's packages
WHEELS = Path(sys.prefix) / "wheels"
COLAB_TORCH = [line for line in (ROOT / "tests" / "colab-requirements.txt").read_text()
               .splitlines() if line.startswith(("torch==", "torchvision=="))]

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


def _head_commit() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def _colab_notebook(nb_path: Path, tmp: Path) -> Path:
    """The page, solved, its setup cell installing this checkout at HEAD's commit."""
    nb = solved(nb_path) if exercises(nb_path) else nbformat.read(nb_path, as_version=4)
    setup = next(c for c in nb.cells if tags.has(c, tags.SETUP))
    pinned = f"git+{REPOSITORY}@{source_ref()}"
    assert pinned in setup.source, setup.source
    # `file://localhost/...`: PEP 508 refuses a host-less file URL that has an @ref.
    here = f"git+file://localhost{ROOT.as_posix()}@{_head_commit()}"
    setup.source = setup.source.replace(pinned, here)
    path = tmp / nb_path.name
    nbformat.write(nb, path)
    return path


def _freeze(python: Path, env: dict) -> dict[str, str]:
    """{package: version} installed in the simulated runtime."""
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return {line.split("==")[0].lower(): line.split("==")[-1]
            for line in out.splitlines() if "==" in line}


def _env() -> dict:
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
    return env


@pytest.mark.slow
@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.name)
def test_page_runs_solved_in_simulated_colab(nb_path, tmp_path):
    python = _sim_python()
    with colab_venv_lock(ROOT):          # one page at a time installs into .venv-colab/
        _run_page_in_simulated_colab(nb_path, tmp_path, python)


def _run_page_in_simulated_colab(nb_path, tmp_path, python):
    start = time.perf_counter()
    env = _env()
    # A fresh runtime for every page, as Colab gives: no rnnlab, no d2l.
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "rnnlab", "d2l"],
                   env=env, capture_output=True)
    before = _freeze(python, env)
    work = tmp_path / "work"
    work.mkdir()
    nb_in = _colab_notebook(nb_path, tmp_path)
    nb_out = tmp_path / f"out-{nb_path.name}"
    result = subprocess.run([str(python), "-c", DRIVER, str(nb_in), str(work), str(nb_out)],
                            env=env, capture_output=True, text=True, timeout=2400)
    assert result.returncode == 0, result.stderr[-3000:]
    executed = nbformat.read(nb_out, as_version=4)
    setup_cell = next(c for c in executed.cells if tags.has(c, tags.SETUP))
    setup_out = "".join(o.get("text", "") for o in setup_cell.outputs)
    assert "ERROR" not in setup_out.upper(), setup_out
    for text in check_verdicts(executed):
        assert "✔ passed" in text and "not yet" not in text, text
    # What the run measured is said by its result cells, in plain Markdown.
    assert not result_cells_without_markdown(executed), "a result cell showed nothing"
    assert not myst_in_markdown_outputs(executed), "MyST syntax in a Markdown output"
    assert "{glue:" not in jupyter_text(executed) and "{doc}" not in jupyter_text(executed)
    # The setup cell adds rnnlab (and d2l where used) and changes nothing Colab installed.
    after = _freeze(python, env)
    changed = {name: (before.get(name), version) for name, version in after.items()
               if before.get(name) != version and name not in ("rnnlab", "d2l")}
    changed |= {name: (v, None) for name, v in before.items() if name not in after}
    assert not changed, f"the setup cell changed Colab's packages: {changed}"
    probe = ("import importlib.util, rnnlab, torch, torchvision; "
             "print(rnnlab.__file__, torch.__version__, torchvision.__version__, "
             "importlib.util.find_spec('d2l') is not None)")
    check = subprocess.run([str(python), "-c", probe], env=env, capture_output=True, text=True)
    for pin in COLAB_TORCH:
        assert pin.split("==")[1] in check.stdout, f"Colab's own {pin} must stay as it was"
    assert str(SIM) in check.stdout, "rnnlab must be installed into the simulated runtime"
    assert check.stdout.split()[-1] == str(uses_d2l(nb_path)), \
        "d2l is installed exactly where the page uses it"
    print(f"{nb_path.name}: simulated Colab run took {time.perf_counter() - start:.0f} s")


def test_setup_cells_pin_the_version_and_install_d2l_only_where_used():
    from rnnlab.pages import setup_cell

    for nb_path in NOTEBOOKS:
        (cell,) = tagged(nb_path, tags.SETUP)
        assert "".join(cell["source"]) == setup_cell(uses_d2l(nb_path)), \
            f"{nb_path.name}: run `python tools/release.py setup-cells` to rewrite it"
    assert uses_d2l(ROOT / "book" / "03_handmade_vs_concise.ipynb")
    assert not uses_d2l(ROOT / "book" / "01_recurrence.ipynb")
