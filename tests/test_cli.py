"""`python -m rnnlab train FILE` and `python -m rnnlab sample CHECKPOINT`: they work, and
bad arguments or damaged files give one line and exit status 2, never a traceback."""

import contextlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from environment import colab_venv_lock, needs
from notebooks import ROOT

import rnnlab
from rnnlab import cli
from rnnlab.plan import TABLE

TEXT = "It was the best of times, it was the worst of times.\n" * 200
SNAPSHOT = ROOT / "tests" / "snapshots" / "cli.txt"


def _run(*args, python=sys.executable, env=None):
    return subprocess.run([str(python), "-m", "rnnlab", *map(str, args)], capture_output=True,
                          text=True, timeout=600, env=env)


def _main(*args) -> subprocess.CompletedProcess:
    """`python -m rnnlab ARGS` in this process (no torch import to wait for): what it
    prints, and its exit status, as `_run` reports them."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in args])
        except SystemExit as exc:           # argparse: --help, or a bad flag
            code = exc.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    text = folder / "tale.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = folder / "tale.pt"
    result = _run("train", text, "--hidden", 16, "--layers", 1, "--epochs", 2, "--batch", 8,
                  "--steps", 16, "--lr-decay", 0.5, "--io-dropout", 0.2,
                  "--out", out, "--quiet")
    assert result.returncode == 0, result.stderr
    return text, out, result


def test_train_writes_a_checkpoint_with_vocabulary_and_settings(trained):
    _, out, result = trained
    assert "validation perplexity" in result.stdout and str(out) in result.stdout
    ckpt = torch.load(out, weights_only=True)
    assert ckpt["settings"]["cell"] == "lstm" and ckpt["settings"]["hidden"] == 16
    assert "I" in ckpt["vocab"] and "\n" in ckpt["vocab"]          # the text as it is
    assert ckpt["settings"]["io_dropout"] == 0.2
    assert len(ckpt["history"]["lr"]) == ckpt["history"]["epochs"] == 2
    assert ckpt["history"]["lr"][0] == pytest.approx(2e-3)


def test_sample_continues_the_prefix_reproducibly(trained):
    _, out, _ = trained
    runs = [_run("sample", out, "--prefix", "It was", "--chars", 40, "--seed", 3)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout.startswith("It was") and runs[0].stdout == runs[1].stdout
    assert len(runs[0].stdout.rstrip("\n")) >= len("It was") + 30


@pytest.mark.parametrize("make_args, fragment", [
    (lambda text, out: ["sample", text], "is not an rnnlab checkpoint"),
    (lambda text, out: ["sample", out.with_name("missing.pt")], "does not exist"),
    (lambda text, out: ["sample", out, "--prefix", "@@"], "vocabulary lacks"),
    (lambda text, out: ["sample", out, "--temperature", "-1"], "temperature"),
    (lambda text, out: ["train", text.with_name("missing.txt")], "does not exist"),
    (lambda text, out: ["train", text, "--hidden", "0"], "must be positive"),
    (lambda text, out: ["train", text, "--dropout", "1.5"], "dropout"),
    (lambda text, out: ["train", text, "--lr-decay", "1.0"], "lr-decay"),
    (lambda text, out: ["train", text, "--io-dropout", "1"], "io-dropout"),
    (lambda text, out: ["train", text, "--impl", "scratch", "--io-dropout", "0.2"],
     "needs --impl concise"),
    (lambda text, out: ["train", text, "--batch", "4096", "--force"], "too short"),
    (lambda text, out: ["fly"], "invalid choice"),
])
def test_bad_input_gives_one_line_and_status_2(trained, make_args, fragment):
    text, out, _ = trained
    result = _main(*make_args(text, out))
    assert result.returncode == 2, result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].count("error") >= 1


def test_sample_marks_where_the_prefix_ends(trained):
    _, out, _ = trained
    marked = _run("sample", out, "--prefix", "It was", "--chars", 20, "--seed", 1)
    plain = _run("sample", out, "--prefix", "It was", "--chars", 20, "--seed", 1, "--plain")
    assert marked.stdout.startswith("It was▸") and "▸" not in plain.stdout
    assert marked.stdout.replace("▸", "", 1) == plain.stdout


def test_sample_never_writes_unk_and_marks_the_default_prefix(trained):
    _, out, _ = trained
    hot = _main("sample", out, "--temperature", 5, "--chars", 400, "--seed", 0)
    assert hot.returncode == 0 and "<unk>" not in hot.stdout, hot.stdout
    first_line = TEXT.split("\n")[0]
    assert hot.stdout.startswith(first_line + "▸"), hot.stdout[:80]


def test_help_shows_the_defaults():
    shown = " ".join(_main("train", "--help").stdout.split())       # unwrapped
    for fragment in ("(default: 256; planned with --minutes)", "(default: lstm)",
                     "(default: 32; planned with --minutes)", "(default: 3)"):
        assert fragment in shown, shown
    assert "(default: None)" not in shown and "(default: False)" not in shown


def test_train_says_why_it_stopped_with_plurals(tmp_path):
    text = tmp_path / "tale.txt"
    text.write_text(TEXT, encoding="utf-8")
    small = ["--hidden", 8, "--layers", 1, "--batch", 8, "--steps", 16, "--quiet"]
    one = _run("train", text, *small, "--epochs", 1)
    assert one.returncode == 0, one.stderr
    assert "stopped after 1 epoch: every epoch asked for is done" in one.stdout, one.stdout
    timed = _run("train", text, *small, "--minutes", 0.005, "--no-plan", "--force")
    assert timed.returncode == 0, timed.stderr
    assert "the time budget (0.3 s of training) ran out" in timed.stdout, timed.stdout


def test_a_time_budget_shows_no_epoch_total_and_no_eta(tmp_path):
    text = tmp_path / "tale.txt"
    text.write_text(TEXT, encoding="utf-8")
    env = {**os.environ, "RNNLAB_PROGRESS": "text"}
    run = _run("train", text, "--hidden", 8, "--layers", 1, "--batch", 8, "--steps", 16,
               "--minutes", 0.005, "--no-plan", env=env)
    bar = run.stdout + run.stderr
    assert run.returncode == 0 and "epochs: " in bar, bar
    assert "10000" not in bar and "/?" not in bar and "<" not in bar.split("stopped")[0], bar


def test_minutes_plans_the_run_and_says_the_plan_first(tmp_path):
    text = tmp_path / "tale.txt"
    text.write_text(TEXT, encoding="utf-8")
    run = _run("train", text, "--hidden", 8, "--layers", 2, "--steps", 16, "--minutes", 0.05)
    assert run.returncode == 0, run.stderr
    first = run.stderr.splitlines()[0]
    assert first.startswith("plan for 0.05 min: lstm 2x8") and "cosine to 0" in first, first
    batch = TABLE[0].batch                   # a 0.05-minute budget plans the first row
    assert "(hidden, layers, steps as given)" in first and f"batch {batch}x16" in first, first
    assert "validation slice perplexity" in run.stderr, run.stderr
    assert run.stdout.startswith("stopped after ") and "the time budget ran out" in run.stdout
    ckpt = torch.load(text.with_name("tale.txt.rnnlab.pt"), weights_only=True)
    assert ckpt["history"]["plan"] == first and ckpt["settings"]["steps"] == 16
    assert ckpt["settings"]["hidden"] == 8 and ckpt["settings"]["layers"] == 2
    sampled = _run("sample", text.with_name("tale.txt.rnnlab.pt"), "--chars", 10)
    assert sampled.returncode == 0, sampled.stderr


@pytest.mark.parametrize("flags, said", [
    (["--minutes", 1, "--lr-decay", 0.5], "--lr-decay does not go with a planned run"),
    (["--minutes", 1, "--epochs", 3], "--epochs does not go with a planned run"),
    (["--no-plan"], "--no-plan goes with --minutes"),
])
def test_a_plan_refuses_what_it_would_override(flags, said, trained):
    text, _, _ = trained
    run = _main("train", text, *flags, "--force")
    assert run.returncode == 2 and said in run.stderr, run.stderr
    assert "--no-plan" in run.stderr


def test_out_is_checked_before_training_and_never_overwritten_silently(trained, tmp_path):
    text, out, _ = trained
    missing = _main("train", text, "--out", tmp_path / "no" / "such" / "model.pt")
    assert missing.returncode == 2 and "--out" in missing.stderr
    assert "does not exist" in missing.stderr and "LMData" not in missing.stderr, \
        "refused only after loading the text: the check must come first"
    folder = _main("train", text, "--out", tmp_path)
    assert folder.returncode == 2 and "is a directory" in folder.stderr
    before = out.read_bytes()
    again = _main("train", text, "--out", out, "--epochs", 1)
    assert again.returncode == 2 and "--force" in again.stderr and "already exists" in \
        again.stderr
    assert out.read_bytes() == before
    copy = tmp_path / "copy.pt"
    copy.write_bytes(before)
    forced = _run("train", text, "--hidden", 8, "--layers", 1, "--batch", 8, "--steps", 16,
                  "--epochs", 1, "--out", copy, "--force", "--quiet")
    assert forced.returncode == 0 and copy.read_bytes() != before
    assert not copy.with_name("copy.pt.partial").exists()


def test_dropout_on_one_layer_is_our_note_not_pytorchs_warning(tmp_path):
    text = tmp_path / "tale.txt"
    text.write_text(TEXT, encoding="utf-8")
    run = _run("train", text, "--hidden", 8, "--layers", 1, "--dropout", 0.5, "--batch", 8,
               "--steps", 16, "--epochs", 1, "--quiet")
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("note: --dropout 0.5 acts between stacked layers") == 1
    assert "Warning" not in run.stderr and "warnings.warn" not in run.stderr, run.stderr
    sampled = _run("sample", text.with_name("tale.txt.rnnlab.pt"), "--chars", 10)
    assert sampled.returncode == 0 and sampled.stderr == "", sampled.stderr


def test_errors_name_the_flags_with_readable_numbers(trained):
    text, _, _ = trained
    run = _run("train", text, "--batch", 4096, "--steps", 64, "--force")
    assert "--batch 4096 x --steps 64" in run.stderr and "use a smaller --batch or --steps" \
        in run.stderr, run.stderr
    assert "batch_size" not in run.stderr and "num_steps" not in run.stderr
    assert "262,209" in run.stderr, run.stderr         # 4096 * 64 + 64 + 1, with commas


@pytest.mark.parametrize("content", [b"", b"\x00\x01 not a pickle", b"plain text",
                                     bytes(range(256)) * 20])
def test_an_unreadable_checkpoint_is_one_whole_line(tmp_path, content):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    run = _run("sample", path)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith("write one with `python -m rnnlab train FILE`"),\
        run.stderr


def test_help_and_errors_match_the_snapshot(trained, monkeypatch):
    """The README's command-line section shows this output: `--help` with its defaults
    and each error a reader is likely to meet."""
    text, out, _ = trained
    monkeypatch.setenv("COLUMNS", "88")          # argparse wraps --help to the terminal
    monkeypatch.chdir(text.parent)
    commands = [["train", "--help"], ["sample", "--help"],
                ["train", "missing.txt"],
                ["train", "tale.txt", "--batch", "4096", "--force"],
                ["train", "tale.txt", "--out", "no/such/model.pt"],
                ["train", "tale.txt", "--out", "tale.pt"],
                ["sample", "tale.txt"],
                ["sample", "tale.pt", "--prefix", "@@"]]
    shown = []
    for command in commands:
        run = _main(*command)
        shown.append(f"$ python -m rnnlab {' '.join(command)}\n{run.stdout}{run.stderr}")
    got = "\n".join(shown)
    if os.environ.get("RNNLAB_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(got, encoding="utf-8")
    assert got == SNAPSHOT.read_text(encoding="utf-8"), \
        "the command line's output changed: rerun with RNNLAB_UPDATE_SNAPSHOTS=1 and review"


def test_a_damaged_checkpoint_is_one_line(trained, tmp_path):
    _, out, _ = trained
    cut = tmp_path / "cut.pt"
    cut.write_bytes(out.read_bytes()[:200])
    wrong = tmp_path / "wrong.pt"
    torch.save({"format": "rnnlab-checkpoint-1", "settings": {}}, wrong)
    for path in (cut, wrong):
        result = _run("sample", path)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_the_two_commands_work_after_a_fresh_install(tmp_path):
    """`pip install -e .` into the simulated Colab runtime (no rnnlab, only its own
    packages), then train and sample there."""
    sim = ROOT / ".venv-colab"
    needs((sim / ".ready").exists(), "the simulated Colab environment .venv-colab/ is missing")
    python = sim / "bin" / "python"
    env = {"PATH": f"{sim / 'bin'}:/usr/bin:/bin", "PIP_NO_INDEX": "1",
           "PIP_NO_BUILD_ISOLATION": "0", "RNNLAB_PROGRESS": "off", "HOME": str(tmp_path)}
    with colab_venv_lock(ROOT):      # the simulated Colab pages install there too
        _fresh_install_and_run(python, env, tmp_path, ["-e", str(ROOT)])


@pytest.mark.slow
def test_the_built_wheel_installs_offline_and_trains_on_its_own_text(tmp_path):
    """`python -m build` makes an sdist and a wheel that `twine check` passes; the wheel
    holds the package and its text (no tests, no notebooks) and full metadata, and,
    installed from the file alone into the simulated Colab runtime, it trains and samples
    on the Time Machine text it ships."""
    import zipfile
    from email.parser import Parser

    sim = ROOT / ".venv-colab"
    needs((sim / ".ready").exists(), "the simulated Colab environment .venv-colab/ is missing")
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                            str(dist), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("*.whl")
    assert len(list(dist.glob("*.tar.gz"))) == 1
    checked = subprocess.run([sys.executable, "-m", "twine", "check", *map(str, dist.iterdir())],
                             capture_output=True, text=True)
    assert checked.returncode == 0 and "PASSED" in checked.stdout, checked.stdout
    names = zipfile.ZipFile(wheel).namelist()
    assert "rnnlab/texts/timemachine.txt" in names and "rnnlab/checks/sandbox.py" in names
    assert "rnnlab/texts/tinyshakespeare.txt" in names       # the benchmark's text
    assert not [n for n in names if n.startswith(("tests/", "book/")) or n.endswith(".ipynb")]
    meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
    meta = Parser().parsestr(zipfile.ZipFile(wheel).read(meta_name).decode())
    assert meta["License"] == "MIT" and meta["Requires-Python"] == ">=3.10"
    from rnnlab._repository import REPOSITORY

    assert f"Source, {REPOSITORY}" in meta.get_all("Project-URL")     # made by setup.py
    assert meta.get_all("Classifier")
    assert any(r.startswith("torch>=") for r in meta.get_all("Requires-Dist"))
    python = sim / "bin" / "python"
    env = {"PATH": f"{sim / 'bin'}:/usr/bin:/bin", "PIP_NO_INDEX": "1",
           "RNNLAB_PROGRESS": "off", "HOME": str(tmp_path)}
    with colab_venv_lock(ROOT):
        _fresh_install_and_run(python, env, tmp_path, [str(wheel)], shipped_text=True)


def _fresh_install_and_run(python, env, tmp_path, target, shipped_text=False):
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "rnnlab"], env=env,
                   capture_output=True)
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", *target],
                             env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    try:
        assert install.returncode == 0, install.stderr[-2000:]
        version = subprocess.run([str(python), "-m", "rnnlab", "--version"], env=env,
                                 capture_output=True, text=True, cwd=tmp_path)
        assert version.returncode == 0 and rnnlab.__version__ in version.stdout
        text = tmp_path / "tale.txt"
        if shipped_text:           # the copy inside the installed package, not the checkout
            where = subprocess.run([str(python), "-c", "import rnnlab.data as d; "
                                    "print(d.time_machine_path())"], env=env, cwd=tmp_path,
                                   capture_output=True, text=True)
            shipped = Path(where.stdout.strip())
            assert "site-packages" in str(shipped) and shipped.exists(), where.stdout
            text.write_text(shipped.read_text(encoding="ascii")[:20_000], encoding="utf-8")
        else:
            text.write_text(TEXT, encoding="utf-8")
        trained = _run("train", text, "--hidden", 8, "--layers", 1, "--epochs", 1, "--batch",
                       8, "--steps", 16, python=python, env=env)
        assert trained.returncode == 0, trained.stderr
        sampled = _run("sample", text.with_name("tale.txt.rnnlab.pt"), "--prefix", "It",
                       "--chars", 20, python=python, env=env)
        assert sampled.returncode == 0 and sampled.stdout.startswith("It"), sampled.stderr
    finally:
        subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "rnnlab"],
                       env=env, capture_output=True)


def test_the_perplexity_target_benchmark_runs_the_command_and_reports(tmp_path):
    text = tmp_path / "tale.txt"
    text.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "target.json"
    script = ROOT / "benchmarks" / "perplexity_target.py"
    result = subprocess.run([sys.executable, str(script), "--text", str(text), "--hidden",
                             "16", "--epochs", "1", "--out", str(out)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "--io-dropout 0.5" in result.stdout and "--lr-decay 0.5" in result.stdout
    report = json.loads(out.read_text())
    assert report["epochs"] == 1 and report["best_valid_ppl"] == report["valid_ppl"][0]
    assert report["verdict"] == ("met" if report["best_valid_ppl"] <= 4.0 else "missed")
    assert f"{report['best_valid_ppl']:.3f}" in result.stdout and report["test_ppl"] > 1
    missing = subprocess.run([sys.executable, str(script), "--text", str(tmp_path / "no.txt"),
                              "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert missing.returncode == 2 and "failed" in missing.stdout
