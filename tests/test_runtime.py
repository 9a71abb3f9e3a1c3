import re

import pytest
import torch

import rnnlab
from rnnlab.budget import BUDGET_ENV, PROFILES


def test_device_is_cuda_exactly_when_available():
    assert rnnlab.get_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert rnnlab.describe_device().startswith(rnnlab.get_device().type)


def test_budget_default_env_override_and_errors(monkeypatch):
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    assert rnnlab.get_budget().name == ("full" if torch.cuda.is_available() else "quick")
    monkeypatch.setenv(BUDGET_ENV, "FULL")
    assert rnnlab.get_budget() is PROFILES["full"]
    assert rnnlab.get_budget("quick") is PROFILES["quick"]
    monkeypatch.setenv(BUDGET_ENV, "medium")
    with pytest.raises(ValueError, match="medium.*RNNLAB_BUDGET.*full"):
        rnnlab.get_budget()


def test_quick_profile_is_smaller_than_full():
    q, f = PROFILES["quick"], PROFILES["full"]
    assert q.epochs < f.epochs and q.hidden_size <= f.hidden_size


def test_progress_modes(monkeypatch, capsys):
    monkeypatch.setenv("RNNLAB_PROGRESS", "text")
    assert list(rnnlab.progress(range(3), desc="x")) == [0, 1, 2]
    assert "3/3" in capsys.readouterr().out
    monkeypatch.setenv("RNNLAB_PROGRESS", "loud")
    with pytest.raises(ValueError, match="RNNLAB_PROGRESS"):
        rnnlab.progress(range(3))


def test_seed_everything_makes_torch_repeatable():
    rnnlab.seed_everything(7)
    a = torch.rand(3)
    rnnlab.seed_everything(7)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(ValueError):
        rnnlab.seed_everything("7")


def test_the_package_docstring_lists_every_module():
    from pathlib import Path

    import rnnlab

    listed = set(re.findall(r"^\s+(\w+\.py|\w+/)\s", rnnlab.__doc__, re.M))
    root = Path(rnnlab.__file__).parent
    files = {p.name for p in root.glob("*.py")} - {"__init__.py"}
    files |= {p.parent.name + "/" for p in root.glob("*/__init__.py")} - {"exercises/"}
    assert listed == files, f"missing: {sorted(files - listed)}, gone: {sorted(listed - files)}"
    assert "exercises/chN.py" in rnnlab.__doc__


def test_one_version_and_no_module_imports_the_package_root():
    """The version is written once (`_version.py`, which pyproject.toml reads), and no
    module imports from the package root, so `__init__` may import any of them in any
    order without a circular ImportError."""
    import ast
    import subprocess
    import sys
    from pathlib import Path

    import rnnlab
    package = Path(rnnlab.__file__).parent
    pyproject = (package.parents[1] / "pyproject.toml").read_text()
    assert 'dynamic = ["version", "urls"]' in pyproject
    assert "rnnlab._version.__version__" in pyproject
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                upward = (node.level >= 1 and not node.module and path.parent == package) or \
                    (node.level == 2 and not node.module) or node.module == "rnnlab"
                assert not upward, f"{path.name}:{node.lineno} imports the package root"
    # The modules that once imported the version from the root, each imported first in a
    # fresh interpreter (the order in which a circle shows).
    for module in ("sweep", "pages", "cli"):
        run = subprocess.run([sys.executable, "-c", f"import rnnlab.{module}"],
                             capture_output=True, text=True)
        assert run.returncode == 0, f"import rnnlab.{module}: {run.stderr[-500:]}"


def test_the_modules_import_each_other_without_a_circle():
    """The graph of module-level imports inside the package has no cycle (imports inside
    functions, which run later, are left out), so any module can be imported first."""
    import ast
    from pathlib import Path

    import rnnlab
    package = Path(rnnlab.__file__).parent

    def name_of(path: Path) -> str:
        parts = path.relative_to(package.parent).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    graph: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        me = name_of(path)
        here = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
        edges = graph.setdefault(me, set())
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                target = f"{base}.{node.module}" if node.module else base
                if node.module:
                    edges.add(target)
                else:               # from . import a, b: submodules, or names of the package
                    edges |= {target} | {f"{target}.{a.name}" for a in node.names}
    graph = {m: {t for t in ts if t in graph and t != m} for m, ts in graph.items()}
    seen, stack = set(), []

    def visit(m):
        assert m not in stack, f"circular imports: {' -> '.join(stack[stack.index(m):] + [m])}"
        if m in seen:
            return
        stack.append(m)
        for t in sorted(graph[m]):
            visit(t)
        stack.pop()
        seen.add(m)

    for m in sorted(graph):
        visit(m)
    assert "rnnlab.scratch" in graph and "rnnlab.models" in graph["rnnlab.scratch"]
