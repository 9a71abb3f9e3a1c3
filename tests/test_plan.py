"""`rnnlab.plan`: the recipe `--minutes` plans for its budget, and the loop that trains it
by elapsed time (a fake clock makes the time exact)."""

import hashlib
import itertools

import pytest
import torch
from environment import needs
from notebooks import ROOT

from rnnlab import plan as planning
from rnnlab.config import RunConfig
from rnnlab.data import load_text

TEXT = "It was the best of times, it was the worst of times.\n" * 300


def test_the_learning_rate_warms_up_then_falls_to_zero_at_the_end():
    peak = 3e-3
    assert planning.lr_at(0.0, peak) == 0.0
    assert planning.lr_at(planning.WARMUP, peak) == pytest.approx(peak)
    middle = planning.WARMUP + (1 - planning.WARMUP) / 2
    assert planning.lr_at(middle, peak) == pytest.approx(peak / 2)
    assert planning.lr_at(1.0, peak) == pytest.approx(0.0, abs=1e-15)
    assert planning.lr_at(1.5, peak) == pytest.approx(0.0, abs=1e-15)      # past the end
    after = [planning.lr_at(planning.WARMUP + i / 100, peak) for i in range(99)]
    assert all(a >= b for a, b in itertools.pairwise(after))


def test_the_row_is_chosen_by_the_budget_scaled_by_the_machines_speed():
    small, large = planning.TABLE[0], planning.TABLE[-1]
    quick = planning.make_plan(1, 10**6, 65, speed_ratio=1.0, memory=None)
    assert quick.cfg.hidden_size == small.hidden and quick.cfg.lr == small.lr
    long = planning.make_plan(10, 10**6, 65, speed_ratio=1.0, memory=None)
    assert long.cfg.hidden_size == large.hidden and long.cfg.num_layers == large.layers
    # A machine four times faster plans for four times the minutes, one four times
    # slower for a quarter.
    fast = planning.make_plan(small.up_to * 0.9, 10**6, 65, speed_ratio=4.0, memory=None)
    assert fast.cfg.hidden_size == next(r for r in planning.TABLE
                                        if small.up_to * 3.6 <= r.up_to).hidden
    slow = planning.make_plan(10, 10**6, 65, speed_ratio=0.01, memory=None)
    assert slow.cfg.hidden_size == small.hidden
    assert "0.01x the reference's speed" in slow.sentence()


def test_given_settings_are_kept_and_named():
    p = planning.make_plan(10, 10**6, 65, hidden=100, layers=3, batch=7, lr=1e-3,
                           speed_ratio=1.0, memory=None)
    c = p.cfg
    assert (c.hidden_size, c.num_layers, c.batch_size, c.lr) == (100, 3, 7, 1e-3)
    assert "(hidden, layers, batch, lr as given)" in p.sentence()
    assert c.num_steps == planning.TABLE[-1].steps and c.max_seconds == 600
    kept = planning.make_plan(10, 10**6, 65, dropout=0.5, io_dropout=0.0, speed_ratio=1.0,
                              memory=None)
    assert (kept.cfg.dropout, kept.cfg.io_dropout) == (0.5, 0.0)
    assert "passes over" not in kept.sentence()


def test_dropout_grows_with_the_passes_the_budget_allows():
    drops = [planning.dropout_for(p) for p in (0, 1, 5, 20, 100, 1000)]
    assert drops == sorted(drops) and drops[0] == 0 and drops[-1] > 0
    big_text = planning.make_plan(1, 10**8, 65, speed_ratio=1.0, memory=None)
    small_text = planning.make_plan(10, 10**4, 65, speed_ratio=1.0, memory=None)
    assert big_text.passes < 1 and big_text.cfg.dropout == 0 == big_text.cfg.io_dropout
    assert small_text.passes > 100 and small_text.cfg.io_dropout == max(
        p for _, p in planning.DROPOUT)
    assert f"about {small_text.passes:.3g} passes" in small_text.sentence()
    scratch = planning.make_plan(10, 10**4, 65, impl="scratch", speed_ratio=1.0, memory=None)
    assert scratch.cfg.io_dropout == 0 and "the hand-made cells have none" in scratch.sentence()


def test_a_plan_that_does_not_fit_the_memory_shrinks_and_says_so():
    row = planning.TABLE[0]
    cfg = RunConfig(cell="lstm", hidden_size=row.hidden, num_layers=row.layers,
                    embed_size=row.embed, batch_size=row.batch, num_steps=row.steps)
    need = planning.step_memory(cfg, 65)
    roomy = planning.make_plan(1, 10**6, 65, speed_ratio=1.0, memory=4 * need)
    assert roomy.shrunk == "" and roomy.cfg.batch_size == row.batch
    tight = planning.make_plan(1, 10**6, 65, speed_ratio=1.0, memory=need)
    assert tight.cfg.batch_size < row.batch and tight.shrunk
    assert planning.step_memory(tight.cfg, 65) <= planning.MEMORY_SHARE * need
    assert "shrunk from batch" in tight.sentence() and "MiB" in tight.sentence()
    with pytest.raises(ValueError, match="not even the smallest model fits"):
        planning.make_plan(1, 10**6, 65, speed_ratio=1.0, memory=1000)


class FakeClock:
    """Each reading one `tick` later than the last: time a test can count."""

    def __init__(self, tick=1.0):
        self.now, self.tick = 0.0, tick

    def __call__(self):
        self.now += self.tick
        return self.now


def _tiny(seconds, **over):
    data = load_text(TEXT, 8, 16, clean="none")
    p = planning.make_plan(seconds / 60, len(data.train_corpus), len(data.vocab), hidden=16,
                           layers=1, embed=8, batch=8, steps=16, speed_ratio=1.0,
                           memory=None, started=0.0, **over)
    data = planning.data_for(p, data)
    torch.manual_seed(0)
    return p, data, p.cfg.model(len(data.vocab))


def test_training_follows_the_clock_and_keeps_the_best_weights():
    p, data, model = _tiny(200)
    clock = FakeClock()
    done = planning.train_planned(model, data, p, clock=clock)
    assert done.stop_reason == "time" and clock.now <= 200 + 3 * clock.tick
    assert len(done.valid_slice_ppl) <= planning.EVALS + 1 and done.tokens > 0
    # The recorded rates are the schedule's at the times they were read.
    for at, lr in zip(done.at_seconds[:-1], done.lr[:-1]):
        assert lr == pytest.approx(planning.lr_at(at / 200, p.cfg.lr), abs=p.cfg.lr * 0.03)
    assert done.lr[0] > done.lr[-2] and done.lr[-1] < p.cfg.lr * 0.01
    assert done.valid_slice_ppl[done.best] == min(done.valid_slice_ppl)
    piece = data.valid_corpus[:planning.VALID_SLICE + 1]
    from rnnlab.data import seq_data_iter_stream
    from rnnlab.train import perplexity
    again = perplexity(model, seq_data_iter_stream(piece))
    assert again == pytest.approx(min(done.valid_slice_ppl), rel=1e-6), \
        "the model must end with the best validation's weights"
    assert not model.training


def test_a_run_without_progress_stops_on_patience(monkeypatch):
    p, data, model = _tiny(400)
    scores = itertools.count(10.0)                     # every validation worse
    monkeypatch.setattr(planning, "perplexity", lambda *a, **k: next(scores))
    done = planning.train_planned(model, data, p, clock=FakeClock())
    assert done.stop_reason == "patience" and done.best == 0
    waited = done.at_seconds[-2] - done.at_seconds[0]
    assert waited > planning.PATIENCE * 400
    assert done.at_seconds[-1] < 400


def test_a_budget_shorter_than_a_batch_still_trains_one():
    p, data, model = _tiny(1)
    done = planning.train_planned(model, data, p, clock=FakeClock(tick=5.0))
    assert done.tokens == p.cfg.batch_size * p.cfg.num_steps


def test_the_shipped_texts_are_there_and_unchanged():
    path = planning.shipped_text("tinyshakespeare.txt")
    assert hashlib.sha1(path.read_bytes()).hexdigest() == \
        "04486597058d11dcc2c556b1d0433891eb639d2e"
    assert path.read_text().startswith("First Citizen:")
    with pytest.raises(ValueError, match="no shipped text 'hamlet.txt'"):
        planning.shipped_text("hamlet.txt")


def test_the_probe_measures_tokens_per_second():
    # Readings 0.5 s apart: start, two checks that each let a step run, the check that
    # ends the loop, the end: two steps of B x T tokens in 2.0 s.
    speed = planning.probe_speed(seconds=1.0, clock=FakeClock(tick=0.5))
    assert speed == 2 * planning.PROBE["batch"] * planning.PROBE["steps"] / 2.0


def _results(**change):
    prov = {"cpu": "a CPU", "threads": 2, "torch": "2.x", "date": "2026-12-07T00:00:00Z"}
    rows = []
    for text in planning.TEXT_NAMES:
        for minutes in (1.0, 3.0):
            for recipe, nats in (("old defaults", 1.8), ("plan", 1.7)):
                rows.append({"text": text, "minutes": minutes, "recipe": recipe,
                             "test_nats": nats, "settings": f"{recipe} settings",
                             "code": planning.code_key(recipe), **change})
    return {"command": "make per-minute", "commit": "abc1234", "provenance": prov,
            "rows": rows}


def test_the_table_shows_each_text_and_budget_with_the_gain():
    table = planning.per_minute_table(_results())
    lines = table.splitlines()
    assert len([line for line in lines if line.startswith("| The Time Machine")]) == 4
    assert "| Tiny Shakespeare | 3 min | 1.800 | 1.700 | +0.100 | plan settings |" in lines
    assert "commit abc1234 on a CPU (2 threads" in table and "changed since" not in table
    stale = planning.per_minute_table(_results(code="0ld"))
    assert "12 of its rows were made by code that has changed since" in stale


def test_the_readme_table_is_the_committed_benchmark():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    results = planning.per_minute_results()
    needs(results is not None, "no committed per-minute benchmark yet (make per-minute)")
    assert planning.with_table(readme, results) == readme, \
        "the README's table is not the committed benchmark's: run make per-minute"


def test_the_committed_benchmark_has_every_cell_and_the_plan_wins_each():
    results = planning.per_minute_results()
    needs(results is not None, "no committed per-minute benchmark yet (make per-minute)")
    rows = {(r["text"], r["minutes"], r["recipe"]): r for r in results["rows"]}
    for text in planning.TEXT_NAMES:
        for minutes in (1.0, 3.0, 10.0):
            old = rows[text, minutes, "old defaults"]["test_nats"]
            new = rows[text, minutes, "plan"]["test_nats"]
            margin = 0.05 if minutes >= 3 else 0.0
            assert old - new > margin, (text, minutes, old, new)
