"""Code that switches off or gets around a check is refused (issue 31, item 3).

One submission per kind of route a red-team pass used, each written as a notebook cell (its
source is registered the way IPython registers a cell's, so the check can read it). Every
one must fail with a message that names what it did; none may raise, hang or print
"✔ passed". The honest answers beside them must still pass.
"""

import itertools
import linecache
import signal
import sys
import time

import pytest
import torch
from torch import nn

import rnnlab
from rnnlab.checks import Verdict, sandbox
from rnnlab.exercises import ch1, ch3, ch4, ch5, ch6, ch7

_cells = itertools.count()


def cell(source: str, **names) -> dict:
    """Run `source` as a notebook cell would be run; its namespace."""
    filename = f"/tmp/ipykernel_0/{next(_cells)}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"torch": torch, "nn": nn, "ch1": ch1, "rnnlab": rnnlab, **names}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


_CELL = "torch.rnn_tanh_cell(x, h, W_xh.T, W_hh.T, b_h, torch.zeros_like(b_h))"

# (check, the cell, the function it defines, a phrase the verdict must contain)
ROUTES = {
    "a forbidden call in a thread": (ch1.check_rnn_step, f"""
import threading
def rnn_step(x, h, W_xh, W_hh, b_h):
    out = []
    t = threading.Thread(target=lambda: out.append({_CELL}))
    t.start(); t.join()
    return out[0]
""", "rnn_step", "thread"),
    "a thread, its module reached by another name": (ch1.check_rnn_step, f"""
T = __import__("thr" + "eading")
def rnn_step(x, h, W_xh, W_hh, b_h):
    out = []
    t = T.Thread(target=lambda: out.append({_CELL}))
    t.start(); t.join()
    return out[0]
""", "rnn_step", "starting a thread"),
    "DisableTorchFunction": (ch1.check_rnn_step, f"""
def rnn_step(x, h, W_xh, W_hh, b_h):
    with torch._C.DisableTorchFunction():
        return {_CELL}
""", "rnn_step", "watch"),
    "DisableTorchFunction reached by getattr": (ch1.check_rnn_step, f"""
Off = getattr(getattr(torch, "_" + "C"), "Disable" + "TorchFunction")
def rnn_step(x, h, W_xh, W_hh, b_h):
    with Off():
        return {_CELL}
""", "rnn_step", "switched off"),
    "popping the mode stack": (ch1.check_rnn_step, f"""
pop, push = (getattr(getattr(torch, "_" + "C"), n) for n in
             ("_pop_torch_function_stack", "_push_on_torch_function_stack"))
def rnn_step(x, h, W_xh, W_hh, b_h):
    mode = pop()
    try:
        return {_CELL}
    finally:
        push(mode)
""", "rnn_step", "watch"),
    "sys.setprofile(None)": (ch7.check_gru_step, """
S = __import__("sys")
def gru_step(x, h, W_xh, W_hh, b_xh, b_hh):
    getattr(S, "setpro" + "file")(None)
    return rnnlab.cells.gru_step(x, h, W_xh, W_hh, b_xh, b_hh, reset_before=True)
""", "gru_step", "profiler"),
    "the check's frame read by sys._getframe": (ch1.check_rnn_step, """
S = __import__("sys")
def rnn_step(x, h, W_xh, W_hh, b_h):
    return getattr(S, "_get" + "frame")(2).f_locals["want"]
""", "rnn_step", "call stack"),
    "the check's frame read through a traceback": (ch1.check_rnn_step, """
def rnn_step(x, h, W_xh, W_hh, b_h):
    try:
        raise ValueError
    except ValueError as e:
        return getattr(e.__traceback__, "tb_" + "frame").f_back.f_back.f_locals["want"]
""", "rnn_step", "frame"),
    "gc.get_objects": (ch1.check_rnn_step, """
G = __import__("g" + "c")
def rnn_step(x, h, W_xh, W_hh, b_h):
    getattr(G, "get_" + "objects")()
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)
""", "rnn_step", "gc.get_objects"),
    "a subprocess": (ch1.check_rnn_step, """
P = __import__("sub" + "process")
def rnn_step(x, h, W_xh, W_hh, b_h):
    getattr(P, "run")(["true"])
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)
""", "rnn_step", "another process"),
    "TorchScript": (ch1.check_rnn_step, f"""
def cell_(x, h, W_xh, W_hh, b_h):
    return {_CELL}
def rnn_step(x, h, W_xh, W_hh, b_h):
    return getattr(torch, "j" + "it").script(cell_)(x, h, W_xh, W_hh, b_h)
""", "rnn_step", "cannot see"),
    "a C++ extension": (ch1.check_rnn_step, """
def rnn_step(x, h, W_xh, W_hh, b_h):
    ext = __import__("torch.utils.cpp_" + "extension", fromlist=["x"])
    ext.load_inline("m", cpp_sources="", functions=[])
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)
""", "rnn_step", "cannot see"),
    "ctypes": (ch1.check_rnn_step, """
C = __import__("ctyp" + "es")
def rnn_step(x, h, W_xh, W_hh, b_h):
    C.CDLL(None)
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)
""", "rnn_step", "ctypes"),
    "a Tensor subclass that computes when compared": (ch1.check_rnn_step, f"""
class Lazy(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        x, h, W_xh, W_hh, b_h = LAZY_INPUTS
        return {_CELL}
def rnn_step(x, h, W_xh, W_hh, b_h):
    global LAZY_INPUTS
    LAZY_INPUTS = (x, h, W_xh, W_hh, b_h)
    return torch.zeros(x.shape[0], W_hh.shape[0]).as_subclass(Lazy)
""", "rnn_step", "watch"),
    "an int that equals anything": (ch4.check_count_gru, """
class Any(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def count_gru(d, H, num_layers, bidirectional):
    return Any(0)
""", "count_gru", "count_gru"),
    "an int that equals anything (5.2)": (ch5.check_pick_best, """
class Any(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__
def pick_best(table, by):
    return Any(1)
""", "pick_best", "pick_best"),
    "a module imported inside the call": (ch7.check_gru_step, """
import importlib, pathlib, tempfile, sys as S
def gru_step(x, h, *w):
    folder = tempfile.mkdtemp()
    pathlib.Path(folder, "helper_mod.py").write_text(
        "import rnnlab, builtins\\n"
        "builtins.RESULT = rnnlab.cells.gru_step(*builtins.ARGS)\\n")
    import builtins
    builtins.ARGS = (x, h, *w)
    S.path.insert(0, folder)
    try:
        importlib.import_module("helper_mod")
    finally:
        S.path.remove(folder)
        S.modules.pop("helper_mod", None)
    return builtins.RESULT
""", "gru_step", "rnnlab.cells"),
    "patching the check's call from inside the function": (ch1.check_rnn_step, """
def rnn_step(x, h, W_xh, W_hh, b_h):
    vars(ch1)["expect_tensor"] = lambda *a, **k: None
    return torch.zeros(x.shape[0], W_hh.shape[0])
""", "rnn_step", "changed"),
    "a complex-step derivative": (ch1.check_step_jacobian, """
def step_jacobian(h_prev, x, W_xh, W_hh, b_h):
    H = h_prev.shape[0]
    rows = []
    for j in range(H):
        e = torch.zeros(H, dtype=torch.complex128)
        e[j] = 1e-30j
        h = torch.tanh(x.to(torch.complex128) @ W_xh.to(torch.complex128)
                       + (h_prev.to(torch.complex128) + e) @ W_hh.to(torch.complex128)
                       + b_h.to(torch.complex128))
        rows.append(h.imag / 1e-30)
    return torch.stack(rows, 1)
""", "step_jacobian", "complex"),
    "central differences for 6.1": (ch6.check_rnn_step_backward, """
def rnn_step_backward(dh, h, h_prev, x, W_xh, W_hh):
    b_h = torch.atanh(h) - x @ W_xh - h_prev @ W_hh
    def loss(x, h_prev, W_xh, W_hh, b_h):
        return (dh * torch.tanh(x @ W_xh + h_prev @ W_hh + b_h)).sum()
    args = [x, h_prev, W_xh, W_hh, b_h]
    grads = []
    for i, a in enumerate(args):
        g = torch.zeros_like(a)
        for k in range(a.numel()):
            up = [t.clone() for t in args]; down = [t.clone() for t in args]
            up[i].view(-1)[k] += 1e-6; down[i].view(-1)[k] -= 1e-6
            g.view(-1)[k] = (loss(*up) - loss(*down)) / 2e-6
        grads.append(g)
    dx, dh_prev, dW_xh, dW_hh, db = grads
    return dx, dh_prev, dW_xh, dW_hh, db.sum(0) if db.dim() > 1 else db
""", "rnn_step_backward", "wrong values"),
    "GeneratorExit": (ch1.check_rnn_step, """
def rnn_step(*args):
    raise GeneratorExit
""", "rnn_step", "GeneratorExit"),
    "KeyboardInterrupt": (ch1.check_rnn_step, """
def rnn_step(*args):
    raise KeyboardInterrupt
""", "rnn_step", "KeyboardInterrupt"),
    "a __len__ that exits": (ch3.check_sequential_batches, """
class Exit(list):
    def __len__(self):
        raise SystemExit
def sequential_batches(corpus, batch_size, num_steps):
    return Exit([1])
""", "sequential_batches", "should be a pair"),
}

# Routes that try to outlast the time limit (run with a short limit).
SLOW = {
    "cancelling the timer": (ch1.check_rnn_step, """
S = __import__("sig" + "nal")
def rnn_step(x, h, W_xh, W_hh, b_h):
    S.setitimer(S.ITIMER_REAL, 0)
    while True:
        pass
""", "rnn_step"),
    "ignoring SIGALRM": (ch1.check_rnn_step, """
S = __import__("sig" + "nal")
def rnn_step(x, h, W_xh, W_hh, b_h):
    S.signal(S.SIGALRM, S.SIG_IGN)
    while True:
        pass
""", "rnn_step"),
    "catching every exception": (ch1.check_rnn_step, """
def rnn_step(x, h, W_xh, W_hh, b_h):
    while True:
        try:
            while True:
                pass
        except BaseException:
            pass
""", "rnn_step"),
    "catching it on one line, in a helper": (ch1.check_rnn_step, """
def spin():
    while True:
        pass
def rnn_step(x, h, W_xh, W_hh, b_h):
    while True:
        try: spin()
        except BaseException: continue
""", "rnn_step"),
    "catching TimeoutError": (ch1.check_rnn_step, """
import time
def rnn_step(x, h, W_xh, W_hh, b_h):
    while True:
        try:
            time.sleep(100)
        except TimeoutError:
            pass
""", "rnn_step"),
    "an iterator that never ends": (ch3.check_sequential_batches, """
def sequential_batches(corpus, batch_size, num_steps):
    def forever():
        while True:
            yield (torch.zeros(1, 1, dtype=torch.long),) * 2
    return forever()
""", "sequential_batches"),
}


@pytest.fixture(autouse=True)
def short_limit(monkeypatch):
    monkeypatch.setattr(sandbox, "TIME_LIMIT_S", 1.0)     # a setting a check may lower


@pytest.fixture(autouse=True)
def restored_checker():
    """Undo what a route changed in the checker (a student would restart the kernel)."""
    modules = [ch1, ch3, ch4, ch5, ch6, ch7, sandbox]
    saved = [dict(vars(m)) for m in modules]
    yield
    for module, names in zip(modules, saved):
        vars(module).update(names)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("route", list(ROUTES))
def test_every_route_is_refused(route):
    check, source, name, phrase = ROUTES[route]
    before = sys.getprofile(), signal.getsignal(signal.SIGALRM)
    v = check(cell(source)[name])
    assert type(v) is Verdict and not v.passed, f"{route}: {v}"
    assert phrase in " ".join(v.message.split()), f"{route}: {v.message}"
    assert "could not judge" not in v.message, v.message
    assert (sys.getprofile(), signal.getsignal(signal.SIGALRM)) == before
    assert torch._C._len_torch_function_stack() == 0


@pytest.mark.parametrize("route", list(SLOW))
def test_no_route_outlasts_the_time_limit(route):
    check, source, name = SLOW[route]
    start = time.perf_counter()
    v = check(cell(source)[name])
    message = " ".join(v.message.split())
    assert not v.passed and ("ran longer than 1 s" in message or
                             "changing the check's signals" in message), f"{route}: {v}"
    assert time.perf_counter() - start < 15     # the limit, then freeing what it made
    # the kernel is usable afterwards: no stop arrives late
    time.sleep(0.3)
    assert sum(range(10)) == 45


def test_patching_the_checker_from_a_cell_is_refused_where_it_happens():
    with pytest.raises(Exception, match="belongs to the checker"):
        cell('ch1.NO_RNN_STEP = rnnlab.audit.forbid("nothing")')
    with pytest.raises(Exception, match="belongs to the checker"):
        cell("ch1.check_rnn_step = lambda f: None")
    with pytest.raises(Exception, match="belongs to the checker"):
        cell('rnnlab.audit.RECURRENT_OPS = ()')
    with pytest.raises(Exception, match="belongs to the checker"):
        cell('Verdict.__str__ = lambda self: "✔ passed"', Verdict=Verdict)


def test_patching_through_the_module_dict_is_named_and_undone_by_a_restart(monkeypatch):
    original = vars(ch1)["NO_RNN_STEP"]
    try:
        vars(ch1)["NO_RNN_STEP"] = rnnlab.audit.forbid("nothing")
        v = ch1.check_rnn_step(cell(f"def f(x, h, W_xh, W_hh, b_h): return {_CELL}")["f"])
        assert not v.passed and "ch1.NO_RNN_STEP` was changed" in v.message, v.message
    finally:
        vars(ch1)["NO_RNN_STEP"] = original
    honest = cell("def f(x, h, W_xh, W_hh, b_h): return torch.tanh(x @ W_xh + h @ W_hh + b_h)")
    assert ch1.check_rnn_step(honest["f"]).passed


def test_answers_remembered_from_an_earlier_check_do_not_pass():
    spy = cell("""
SEEN = []
def rnn_step(x, h, W_xh, W_hh, b_h):
    SEEN.append((x, h, W_xh, W_hh, b_h))
    return torch.zeros(x.shape[0], W_hh.shape[0])
""")
    ch1.check_rnn_step(spy["rnn_step"])
    answers = {}
    for x, h, W_xh, W_hh, b_h in spy["SEEN"]:     # computed outside any check
        answers[x.sum().item()] = torch.rnn_tanh_cell(x, h, W_xh.T, W_hh.T, b_h,
                                                      torch.zeros_like(b_h))
    memo = cell("""
def rnn_step(x, h, W_xh, W_hh, b_h):
    return ANSWERS.get(x.sum().item(), torch.zeros(x.shape[0], W_hh.shape[0]))
""", ANSWERS=answers)
    assert not ch1.check_rnn_step(memo["rnn_step"]).passed


def test_the_verdict_shown_is_the_checks_own():
    v = ch1.check_rnn_step(cell("def f(*a): return None")["f"])
    assert str(v).startswith("✘ not yet") and "✔" not in v._repr_html_()
    import dataclasses
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.passed = True


def test_honest_cells_pass_beside_them():
    honest = cell("""
import math
def rnn_step(x, h, W_xh, W_hh, b_h):
    return torch.tanh(x @ W_xh + h @ W_hh + b_h)
def step_jacobian(h_prev, x, W_xh, W_hh, b_h):
    h = torch.tanh(x @ W_xh + h_prev @ W_hh + b_h)
    return torch.diag(1 - h ** 2) @ W_hh.T
""")
    assert ch1.check_rnn_step(honest["rnn_step"]).passed
    assert ch1.check_step_jacobian(honest["step_jacobian"]).passed


def test_a_check_that_forbids_nothing_still_allows_the_package():
    """Without a `forbid`, only escapes are refused: the package's own code may run."""
    from rnnlab import checks
    v = checks.run_check("demo", lambda: checks.call(
        lambda: rnnlab.cells.gru_step(torch.zeros(1, 3), torch.zeros(1, 1), torch.zeros(3, 3),
                                      torch.zeros(1, 3), torch.zeros(3), torch.zeros(3)),
        name="f") and "fine")
    assert v.passed, str(v)
