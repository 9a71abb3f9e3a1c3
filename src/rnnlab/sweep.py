"""Hyperparameter sweeps: a grid of configurations in, a tidy table out, cached on disk.

    base = RunConfig(cell="rnn", hidden_size=128, epochs=5)      # rnnlab.config
    table = sweep(base, {"hidden_size": [128, 200, 300], "batch_size": [16, 32, 64]},
                  seeds=[0, 1, 2], name="hidden-x-batch")

Every (configuration, seed) is one training run and one row of the table: its settings,
validation and training perplexity (both measured the same way, after the last epoch:
`valid_ppl`, `train_eval_ppl`),
the best validation perplexity of any epoch, tokens seen, wall time, parameter count and
the per-epoch curves; `tokens_per_s` counts training steps only (validation excluded),
like `max_seconds`. Each finished run is written to `cache_dir/<name>/<key>.json`, where
the key is a hash of everything that affects the run (settings, seed, device, torch, and
the source of every package module the runner imports), so re-running a sweep (rebuilding
the page) retrains only what changed, and a sweep that was interrupted resumes where it
stopped. `sweep(..., executor=process_pool(2))` trains the runs in parallel, locally, or on
a Dask cluster with `executor=client.get_executor()` (`pip install rnnlab[dask]`).
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import itertools
import json
import os
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch

from ._version import __version__
from .config import FIELDS, RunConfig
from .data import load_time_machine
from .models import num_params
from .progress import progress
from .runtime import get_device, seed_everything
from .train import perplexity, train
from .validate import require_int

_DEFAULT_CACHE = Path(os.environ.get("RNNLAB_CACHE", ".rnnlab_cache"))





def expand_grid(base: RunConfig, grid: dict[str, Sequence] | Sequence[dict]) -> list[RunConfig]:
    """All configurations of a grid (dict of lists: the product) or a list of overrides."""
    if isinstance(grid, dict):
        if not grid:
            raise ValueError("the grid is empty: give at least one hyperparameter to vary")
        for key, values in grid.items():
            if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
                raise ValueError(f"grid[{key!r}] must be a list of values, got {values!r}")
        grid = {k: list(v) for k, v in grid.items()}
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid[{key!r}] is an empty list: give at least one value")
        points = [dict(zip(grid, combo)) for combo in itertools.product(*grid.values())]
    else:
        points = [dict(p) for p in grid]
        if not points:
            raise ValueError("the list of configurations is empty")
    configs = []
    for point in points:      # RunConfig checks each: fail before training anything
        unknown = sorted(set(point) - set(FIELDS))
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown}; RunConfig has: {FIELDS}")
        try:
            configs.append(dataclasses.replace(base, **point))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"bad configuration {point or base.changed()}: {exc}") from exc
    return configs


def _package_imports(path: Path) -> set[str]:
    """The rnnlab modules `path` imports (`from .x import`, `from . import x`)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            found.update(name.split(".")[0] for name in names)
    return found


def fingerprint_files(root: Path | None = None) -> list[Path]:
    """This module and every package module it imports, directly or through another one:
    all the code that can change a sweep's result."""
    root = root or Path(__file__).parent
    todo, seen = ["sweep"], set()
    while todo:
        name = todo.pop()
        if name in seen or not (root / f"{name}.py").exists():
            continue          # a subpackage, or the package root
        seen.add(name)
        todo.extend(_package_imports(root / f"{name}.py"))
    return [root / f"{name}.py" for name in sorted(seen)]


def _code(path: Path) -> bytes:
    """What a module computes, without its comments and docstrings: its syntax tree."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


def code_fingerprint(root: Path | None = None) -> str:
    """A hash of the code a run depends on (`fingerprint_files`), so editing any of it
    invalidates cached results instead of silently reusing them. Comments, docstrings and
    layout do not count: the hash is of each module's syntax tree."""
    digest = hashlib.sha1()
    for path in fingerprint_files(root):
        digest.update(path.name.encode() + b"\0" + _code(path))
    return digest.hexdigest()[:12]


def _run_key(cfg: RunConfig, seed: int, device: str, test: bool, code: str) -> str:
    """A hash of everything that decides a run's result: settings, seed, device, and the
    code (`code_fingerprint()`)."""
    payload = json.dumps({"config": dataclasses.asdict(cfg), "seed": seed, "device": device,
                          "test": test, "code": code, "torch": torch.__version__},
                         sort_keys=True)
    return hashlib.sha1(payload.encode()).hexdigest()[:16]


def run_one(cfg: RunConfig, seed: int, device: torch.device | None = None,
            test: bool = False) -> dict:
    """Train one configuration with one seed; return its row of the results table.

    `train_eval_ppl` is training perplexity measured like validation perplexity (eval mode,
    one stream of the same length, after the last epoch; not `History.train_ppl`, the
    running mean during the epoch), so `valid_ppl - train_eval_ppl` is the generalisation
    gap. With `test=True` the row also has `test_ppl`, the perplexity of
    the test text: use it once, for the configuration the sweep has chosen.
    """
    device = device or get_device()
    data = load_time_machine(cfg.batch_size, cfg.num_steps, max_tokens=cfg.max_tokens)
    seed_everything(seed)
    cfg = dataclasses.replace(cfg, seed=seed, eval_train=True)
    model = cfg.model(len(data.vocab))
    start = time.perf_counter()
    hist = train(model, data, cfg, device, show_progress=False)
    wall = time.perf_counter() - start
    extra = {"test_ppl": perplexity(model, data.test_batches(), device)} if test else {}
    return {**dataclasses.asdict(cfg), "seed": seed, "device": device.type,
            "valid_ppl": hist.valid_ppl[-1], "best_valid_ppl": min(hist.valid_ppl),
            "train_eval_ppl": hist.train_eval_ppl[-1], "epochs_run": hist.epochs,
            "tokens_seen": hist.total_tokens, "wall_s": wall,
            "train_s": hist.total_train_seconds,
            "tokens_per_s": hist.total_tokens / hist.total_train_seconds,
            "params": num_params(model),
            "valid_curve": hist.valid_ppl, "train_eval_curve": hist.train_eval_ppl,
            "tokens_curve": hist.tokens_seen, "train_s_curve": hist.train_seconds,
            **extra, **provenance(device)}


def provenance(device: torch.device) -> dict:
    """Where and with what a run was made: package and torch versions, the code's
    fingerprint, the device, the CPU, torch's threads and the date (UTC)."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), cpu)
    except OSError:
        pass
    from .runtime import describe_device

    return {"rnnlab": __version__, "torch": torch.__version__, "code": code_fingerprint(),
            "device_name": describe_device(device), "cpu": cpu,
            "threads": torch.get_num_threads(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _write_atomic(path: Path, row: dict) -> None:
    """Write `row` so that `path` holds either the whole run or nothing. The temporary file
    has a unique name, so two processes sweeping into one folder never share one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(row, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cached(path: Path) -> dict | None:
    """The cached row at `path`, or None (with a warning) if the file is damaged."""
    try:
        row = json.loads(path.read_text())
        if isinstance(row, dict) and "valid_ppl" in row:
            return row
        problem = "it does not hold a result row"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    warnings.warn(f"the sweep cache file {path} is damaged ({problem}); training that run "
                  "again", stacklevel=3)
    return None


def sweep(base: RunConfig, grid: dict[str, Sequence] | Sequence[dict],
          seeds: Sequence[int] = (0, 1, 2), name: str = "sweep",
          cache_dir: str | Path | None = None, device: torch.device | None = None,
          show_progress: bool = True, test: bool = False, executor=None,
          provenance: dict | None = None):
    """Run every configuration of `grid` (over `base`) with every seed; cache each run.

    Returns a pandas DataFrame, one row per (configuration, seed), with a `cached` column
    saying whether the row came from disk. Rows are in grid order, seeds innermost.
    `test=True` adds a `test_ppl` column: for the final run of a chosen configuration only.

    `executor=None` trains the runs one after another in this process. Any
    `concurrent.futures.Executor` (`process_pool(2)` here, Dask's `client.get_executor()`
    on a cluster) trains the runs the cache lacks in its workers: this process reads the
    cache, submits only what is missing, and writes each result to the cache itself,
    atomically, as it arrives, so workers need no shared disk. There a run that raises (or
    whose worker dies) gives a row with its `error` and no numbers, the other runs go on,
    and nothing is cached for it: sweeping again trains only what is missing. Ctrl-C
    cancels the runs not yet started and keeps the finished ones. `provenance` (e.g. the
    commit and the command) is added to every row trained now, and cached with it.
    """
    import pandas as pd

    seeds = list(seeds)
    if not seeds:
        raise ValueError(f"seeds must be a non-empty list of ints, got {seeds!r}")
    for seed in seeds:
        require_int("each seed", seed, minimum=None)
    configs = expand_grid(base, grid)
    _require_no_fork(executor)
    device = device or get_device()
    folder = Path(cache_dir or _DEFAULT_CACHE) / name
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(cfg, seed) for cfg in configs for seed in seeds]
    # The key is the run's requested device and settings, wherever it is trained; the code
    # it depends on is hashed once for the whole sweep.
    code = code_fingerprint()
    paths = [folder / f"{_run_key(cfg, seed, device.type, test, code)}.json"
             for cfg, seed in jobs]
    rows: list[dict | None] = [None] * len(jobs)
    for i, path in enumerate(paths):
        row = _read_cached(path) if path.exists() else None
        if row is not None:
            rows[i] = {**row, "cached": True}
    missing = [i for i, row in enumerate(rows) if row is None]
    todo = [jobs[i] for i in missing]
    desc = f"sweep {name}"
    results = (_run_here(todo, device, test, desc, show_progress) if executor is None else
               _run_elsewhere(executor, todo, device.type, test, desc, show_progress))
    for k, row in results:
        i = missing[k]
        if "error" not in row:
            row = {**row, **(provenance or {})}
            _write_atomic(paths[i], row)
        else:
            cfg, seed = jobs[i]
            row = {**dataclasses.asdict(cfg), "seed": seed, "device": device.type, **row}
        rows[i] = {**row, "cached": False}
    return pd.DataFrame(rows)


def _require_no_fork(executor) -> None:
    """Refuse a process pool that forks: after torch has run in this process, forked
    workers that train deadlock (no CPU, no message, forever). The standard library's
    `ProcessPoolExecutor()` forks by default on Linux before Python 3.14."""
    from concurrent.futures import ProcessPoolExecutor

    if not isinstance(executor, ProcessPoolExecutor):
        return
    context = getattr(executor, "_mp_context", None)
    method = context.get_start_method() if context is not None else None
    if method == "fork":
        raise ValueError(
            "this ProcessPoolExecutor starts its workers with 'fork', which deadlocks once "
            "torch has run in this process (the sweep would hang forever, silently). Use "
            "rnnlab.sweep.process_pool(workers), or ProcessPoolExecutor(mp_context="
            "multiprocessing.get_context('spawn'))")


def _run_here(jobs, device: torch.device, test: bool, desc: str, show_progress: bool):
    """Train every (cfg, seed) of `jobs` in this process; yield `(index, row)`. A run that
    raises stops the sweep, as a cell's error should; the runs before it are cached."""
    for k, (cfg, seed) in enumerate(progress(jobs, desc=desc, disable=not show_progress)):
        yield k, run_one(cfg, seed, device, test)


def _train_remote(cfg: dict, seed: int, device: str, test: bool) -> dict:
    """What a worker runs: one run, from plain arguments (picklable for any executor)."""
    return run_one(RunConfig(**cfg), seed, torch.device(device), test)


def _run_elsewhere(executor, jobs, device: str, test: bool, desc: str, show_progress: bool):
    """Submit every (cfg, seed) of `jobs` to `executor`; yield `(index, row)` as each run
    finishes, a row `{"error": ...}` for a run that raised or whose worker died."""
    from concurrent.futures import as_completed

    futures = {executor.submit(_train_remote, dataclasses.asdict(cfg), seed, device, test): i
               for i, (cfg, seed) in enumerate(jobs)}
    bar = progress(total=len(futures), desc=desc, disable=not show_progress)
    try:
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as exc:     # the run raised, or its worker process died
                row = {"error": f"{type(exc).__name__}: {exc}"}
            bar.update(1)
            yield futures[future], row
    except BaseException:                # Ctrl-C: runs not yet started are cancelled
        for future in futures:
            future.cancel()
        raise
    finally:
        bar.close()


def process_pool(workers: int = 2):
    """A local pool of `workers` processes for `sweep(..., executor=...)`.

    Workers are started with `spawn` (what CUDA requires) and each is limited to its share
    of the cores (`torch.set_num_threads`), so that workers do not oversubscribe them. Use
    it in a `with` block, or call `.shutdown()` when done.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    require_int("workers", workers)
    threads = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=torch.set_num_threads, initargs=(threads,))


def summarize(table, by: Sequence[str], metric: str = "valid_ppl"):
    """Mean, standard deviation, min and max of `metric` over seeds, per configuration."""
    missing = [c for c in [*by, metric] if c not in table.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the table; it has {list(table.columns)}")
    out = table.groupby(list(by), dropna=False)[metric].agg(["mean", "std", "min", "max",
                                                             "count"])
    return out.rename(columns={"count": "seeds"}).reset_index()
