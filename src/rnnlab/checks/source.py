"""Reading the student's source: patterns that run but mislead (`h == None`)."""

from __future__ import annotations

import ast
import inspect
import textwrap

from ..guard import is_library


def none_comparisons(obj) -> list[tuple[str, int, str]]:
    """`x == None` / `x != None` in a function, or in a class's own methods.

    Returns (function's qualified name, line number, the comparison's text). Source that
    cannot be read (code typed into `exec`) is skipped. Methods are read one by one:
    `inspect.getsource` of a class defined in a notebook cell fails on Python < 3.13.
    """
    if inspect.isclass(obj):
        functions = [f for klass in obj.__mro__ for f in vars(klass).values()
                     if inspect.isfunction(f) and not is_library(f.__code__.co_filename)]
    else:
        functions = [getattr(obj, "__func__", obj)]
    found = []
    for f in functions:
        try:
            lines, start = inspect.getsourcelines(f)
            tree = ast.parse(textwrap.dedent("".join(lines)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            continue
        source = textwrap.dedent("".join(lines))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and _compares_with_none(node):
                text = ast.get_source_segment(source, node) or ""
                found.append((f.__qualname__, start + node.lineno - 1, " ".join(text.split())))
    return found


def _compares_with_none(node: ast.Compare) -> bool:
    operands = [node.left, *node.comparators]
    for op, a, b in zip(node.ops, operands, operands[1:]):
        if isinstance(op, (ast.Eq, ast.NotEq)) and any(
                isinstance(x, ast.Constant) and x.value is None for x in (a, b)):
            return True
    return False
