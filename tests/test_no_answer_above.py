"""No exercise's answer is on the page above it (issue 31, item 1).

For every exercise, the solution's key expressions and loops (normalised: names replaced,
so `X[:, t] @ W` and `x @ W_xh` read alike) appear in no code cell above the exercise,
folded or not: every reading place shows code cells, and a listing the website folds
still has to be opened to be read only where the reader can see it is folded. Expressions
an earlier exercise's solution already holds are the earlier exercise's, not this one's
(exercise 1.2 may call 1.1's step). A listing folded on the website is folded in Colab and
JupyterLab too, and a solution cell prints a verdict, never the answer.
"""

import ast
import importlib
import inspect
import pkgutil
import textwrap

import pytest
from notebooks import CHAPTERS, cells, source

import rnnlab
from rnnlab import tags

_MIN_WEIGHT = 2     # `x @ W + b`, `torch.stack(h, 1)`: an expression that is an answer


class _Anonymous(ast.NodeTransformer):
    """Every name and attribute chain's root becomes `_`; literals stay."""

    def visit_Name(self, node):
        return ast.copy_location(ast.Name("_", ast.Load()), node)

    def visit_arg(self, node):
        node.arg = "_"
        return node

    def visit_keyword(self, node):
        self.generic_visit(node)
        return node


def _normal(node) -> str:
    import copy
    return ast.dump(_Anonymous().visit(copy.deepcopy(node)), annotate_fields=False)


def _weight(node) -> int:
    """Operations in an expression: calls, arithmetic, comparisons and computed indices
    (`x[-1]`, `-1` alone, are not operations)."""
    return sum(isinstance(n, (ast.Call, ast.BinOp, ast.Compare)) or
               isinstance(n, ast.Subscript) and not _literal(n.slice)
               for n in ast.walk(node))


def _literal(node) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant))


def _keys(code: str) -> set[str]:
    """Normalised expressions (`_MIN_WEIGHT` operations or more) and loops of a solution's
    definitions."""
    tree = ast.parse(code)
    keys = set()
    for top in tree.body:
        if not isinstance(top, (ast.FunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(top):
            if isinstance(node, ast.expr) and _weight(node) >= _MIN_WEIGHT:
                keys.add(_normal(node))
            elif isinstance(node, (ast.For, ast.While)):
                keys.add(_normal(node))
    return keys


def _shown(code: str) -> set[str]:
    """What a code cell shows: its own code, and the package source it lists with
    `show_source(...)` (an output, so a reader sees it too)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:           # a cell with IPython magics
        return set()
    trees = [tree] + [ast.parse(textwrap.dedent(inspect.getsource(_resolve(n.args[0]))))
                      for n in ast.walk(tree) if isinstance(n, ast.Call)
                      and ast.unparse(n.func) == "show_source"]
    return {_normal(n) for t in trees for n in ast.walk(t)
            if isinstance(n, (ast.expr, ast.For, ast.While))}


def _resolve(node):
    """The object `show_source`'s argument names (`rnnlab.cells.gru_step`, `sweep`)."""
    path = ast.unparse(node).split(".")
    if path[0] == "rnnlab":
        obj = rnnlab
    else:
        owners = [importlib.import_module(f"rnnlab.{m.name}")
                  for m in pkgutil.iter_modules(rnnlab.__path__)]
        obj = next(getattr(m, path[0]) for m in [rnnlab] + owners if hasattr(m, path[0]))
    for part in path[1:]:
        obj = getattr(obj, part)
    return obj


def _strip_magics(code: str) -> str:
    return "\n".join(line for line in code.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def _exercises_in_order(nb):
    """[(name, index of its stub cell, solution source)] in page order."""
    found, solutions = [], {}
    all_cells = cells(nb)
    for i, c in enumerate(all_cells):
        meta = c.get("metadata", {}).get("rnnlab", {})
        if tags.has(c, tags.SOLUTION):
            solutions[meta["exercise"]] = source(c)
        elif tags.has(c, tags.EXERCISE):
            found.append((meta["exercise"], i))
    return [(name, i, solutions[name]) for name, i in found]


# (notebook, exercise, expression) shown above on purpose, and why it gives nothing away.
SHARED = {
    ("03_handmade_vs_concise", "sequential_batches", "(len(_) - 1) // _"):
        "the random iterator counts its windows so: the same idiom, not the sequential "
        "layout the exercise asks for",
    ("03_handmade_vs_concise", "sequential_batches", "len(_) - 1"):
        "the last token has no next token to predict: said in the text above",
}


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_no_answer_above_its_exercise(nb):
    all_cells = cells(nb)
    earlier: set[str] = set()
    problems = []
    for name, stub, solution in _exercises_in_order(nb):
        keys = _keys(solution) - earlier - {
            _normal(ast.parse(expr, mode="eval").body)
            for (page, exercise, expr) in SHARED if (page, exercise) == (nb.stem, name)}
        for i in range(stub):
            c = all_cells[i]
            if c["cell_type"] != "code" or tags.has(c, tags.SOLUTION):
                continue
            for key in keys & _shown(_strip_magics(source(c))):
                problems.append(f"cell {i} shows exercise `{name}`'s answer ({key[:100]})")
        earlier |= _keys(solution)
    assert not problems, f"{nb.name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_listings_the_website_folds_are_folded_everywhere(nb):
    for i, c in enumerate(cells(nb)):
        if c["cell_type"] != "code" or not (tags.has(c, tags.HIDE_CELL) or
                                            tags.has(c, tags.HIDE_INPUT)):
            continue
        meta = c.get("metadata", {})
        assert source(c).startswith("#@title"), f"{nb.name} cell {i}: Colab folds a cell " \
            "only with a #@title form"
        assert meta.get("cellView") == "form", f"{nb.name} cell {i}: cellView form"
        assert meta.get("jupyter", {}).get("source_hidden"), f"{nb.name} cell {i}: " \
            "JupyterLab folds a cell with jupyter.source_hidden"


@pytest.mark.parametrize("nb", CHAPTERS, ids=lambda p: p.stem)
def test_a_solution_cell_shows_only_its_verdict(nb):
    for i, c in enumerate(cells(nb)):
        if not tags.has(c, tags.SOLUTION):
            continue
        tree = ast.parse(source(c))
        last = tree.body[-1]
        assert isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) and \
            ast.unparse(last.value.func).split(".")[-1].startswith("check_"), \
            f"{nb.name} cell {i}: a solution cell ends with its check"
        printing = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and
                    ast.unparse(n.func) in ("print", "display", "IPython.display.display")]
        bare = [n for n in tree.body[:-1] if isinstance(n, ast.Expr)]
        assert not printing and not bare, f"{nb.name} cell {i}: a solution cell prints " \
            "only its verdict (anything else it shows restates the answer)"


def _constant_answers():
    """(notebook, name, check name, value) for solutions that are a value, not a function."""
    for nb in CHAPTERS:
        for c in cells(nb):
            if not tags.has(c, tags.SOLUTION):
                continue
            meta = c["metadata"]["rnnlab"]
            for node in ast.parse(source(c)).body:
                if isinstance(node, ast.Assign) and \
                        ast.unparse(node.targets[0]) == f"{meta['exercise']}_solution":
                    try:
                        value = ast.literal_eval(node.value)
                    except ValueError:
                        continue
                    yield nb, meta["exercise"], meta["check"], value


@pytest.mark.parametrize("nb, name, check, value", list(_constant_answers()),
                         ids=lambda v: getattr(v, "stem", None) or str(v))
def test_a_solutions_verdict_does_not_restate_its_answer(nb, name, check, value):
    """After "Run all" the solution cells' outputs show in Colab (a form folds the code, not
    the output): a passing verdict says why, never which answer."""
    import re
    module = importlib.import_module(f"rnnlab.exercises.ch{int(nb.name[:2])}")
    v = getattr(module, check)(value)
    assert v.passed, str(v)
    parts = value if isinstance(value, (tuple, list)) else (value,)
    for part in parts:
        if isinstance(part, str):
            pattern = rf"(?<![\w'\"]){re.escape(part)}(?![\w'\"])"
        else:
            pattern = rf"=\s*{re.escape(f'{part:g}')}\b"
        assert not re.search(pattern, v.message), f"{name}: {v.message}"
