"""The one verdict rule (rnnlab.noise): paired by seed, on the log scale, robust to a run
that blows up, and refusing comparisons that pool another setting."""

import math

import pandas as pd
import pytest

from rnnlab.noise import best_and_runner_up, compare, compare_runs


def test_lower_for_every_seed_beyond_the_spread():
    c = compare([4.0, 4.2, 4.1], [5.0, 5.1, 4.9])
    assert c.gap == pytest.approx(-0.9) and c.wins == 3 and c.pairs == 3
    assert c.beyond_noise and c.verdict() == "lower than"
    assert compare([5.0, 5.1, 4.9], [4.0, 4.2, 4.1]).verdict(higher="worse than") == "worse than"
    assert "lower for 3 of 3 seeds" in c.evidence()


def test_a_gap_inside_the_seed_spread_is_within_noise():
    c = compare([4.0, 4.6], [4.2, 4.3])
    assert not c.beyond_noise and c.verdict() == "within noise of"


def test_a_consistent_but_tiny_gap_is_within_noise():
    # lower for every seed, by far less than the runs scatter
    c = compare([7.001, 7.301, 6.901], [7.002, 7.302, 6.902])
    assert c.wins == 3 and c.verdict() == "within noise of"


def test_one_seed_the_other_way_is_within_noise():
    c = compare([4.0, 4.1, 6.0], [5.0, 5.1, 5.0])
    assert c.wins == 2 and c.verdict() == "within noise of"


def test_chapter_1_clipping_case_a_blow_up_does_not_hide_a_win():
    """Clipped 9.6-10.1 for 3 of 3 seeds against unclipped runs of 18 to 1.9e5: the
    old mean +- 2 std rule said "within noise", since one run dominated the mean."""
    clipped, unclipped = [9.6, 10.1, 9.9], [18.0, 1.9e5, 340.0]
    old_noise = 2 * max(pd.Series(clipped).std(), pd.Series(unclipped).std())
    assert abs(sum(clipped) / 3 - sum(unclipped) / 3) < old_noise     # the old verdict
    c = compare(clipped, unclipped)
    assert c.verdict() == "lower than" and c.wins == 3


def test_a_side_that_blows_up_on_one_seed_and_wins_on_others_is_not_a_win():
    c = compare([7.0, 7.1, 7.05], [6.5, 1e4, 6.6])
    assert c.verdict() == "within noise of"


def _ch5_table():
    """Chapter 5's hidden x batch sweep, as the quick run measured it: at every H, batch 16
    is lower than batch 64 for every seed."""
    rows = []
    base = {128: 8.0, 200: 7.5, 300: 7.9}
    for H, level in base.items():
        for seed, wobble in enumerate([0.0, 0.05, -0.04]):
            rows.append({"hidden_size": H, "batch_size": 16, "seed": seed,
                         "valid_ppl": level - 0.7 + wobble})
            rows.append({"hidden_size": H, "batch_size": 64, "seed": seed,
                         "valid_ppl": level + wobble * 0.8})
    return pd.DataFrame(rows)


def test_chapter_5_pooled_batch_comparison_is_refused():
    table = _ch5_table()
    with pytest.raises(ValueError, match="different hidden_size.*spread across hidden_size"):
        compare_runs(table, "batch_size", 16, 64)


def test_chapter_5_batch_comparison_at_each_hidden_size():
    table = _ch5_table()
    for H in (128, 200, 300):
        c = compare_runs(table[table["hidden_size"] == H], "batch_size", 16, 64)
        assert c.verdict() == "lower than" and c.wins == 3, (H, c.evidence())


def test_pairs_by_seed_not_by_row_order():
    table = pd.DataFrame({"lr": [0.1, 0.1, 0.1, 0.2, 0.2, 0.2], "seed": [0, 1, 2, 2, 0, 1],
                          "valid_ppl": [5.0, 6.0, 7.0, 7.5, 5.5, 6.5]})
    c = compare_runs(table, "lr", 0.1, 0.2)
    assert c.log_gaps == pytest.approx([math.log(5 / 5.5), math.log(6 / 6.5),
                                        math.log(7 / 7.5)])
    assert c.wins == 3


def test_paired_sides_must_share_their_seeds():
    with pytest.raises(ValueError, match="same seeds"):
        compare({0: 1.0, 1: 2.0}, {0: 1.0, 2: 2.0})
    with pytest.raises(ValueError, match="one value per seed"):
        compare([1.0, 2.0], [1.0, 2.0, 3.0])
    assert compare([1.0, 2.0], [1.0, 2.0, 3.0], paired=False).pairs == 6


def test_two_runs_with_one_seed_on_a_side_are_refused():
    table = pd.DataFrame({"input": ["a", "a", "b", "b"], "seed": [0, 0, 0, 1],
                          "valid_ppl": [5.0, 6.0, 7.0, 7.5]})
    with pytest.raises(ValueError, match="same seed"):
        compare_runs(table, "input", "a", "b")


def test_single_runs_are_not_judged():
    c = compare([4.0], [9.0])
    assert c.noise is None and not c.judged and not c.beyond_noise
    assert c.verdict().startswith("not comparable")


def test_bad_values_are_refused():
    with pytest.raises(ValueError, match="at least one run"):
        compare([], [1.0], paired=False)
    with pytest.raises(ValueError, match="NaN"):
        compare([math.nan, 1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="<= 0"):
        compare([0.0, 1.0], [1.0, 2.0])


def test_best_and_runner_up_ranks_groups_of_runs():
    table = pd.DataFrame({"H": [64, 64, 128, 128, 256, 256], "seed": [0, 1] * 3,
                          "valid_ppl": [6.0, 6.2, 5.0, 5.1, 5.05, 5.2]})
    best, second, c = best_and_runner_up(table, "H")
    assert (best, second) == (128, 256) and c.gap > 0 and not c.beyond_noise
    with pytest.raises(ValueError, match="two values"):
        best_and_runner_up(table[table["H"] == 64], "H")


def test_a_ranking_that_pools_another_setting_is_refused():
    table = _ch5_table()
    with pytest.raises(ValueError, match="different hidden_size"):
        best_and_runner_up(table, "batch_size")
    best, _, _ = best_and_runner_up(table, ["hidden_size", "batch_size"])
    assert best == (200, 16)


def test_the_evidence_counts_the_majority_direction():
    assert compare([5.0, 5.1, 4.9], [4.0, 4.2, 4.1]).evidence().startswith("higher for 3 of 3")
    assert compare([4.0, 4.2, 4.1], [5.0, 5.1, 4.9]).evidence().startswith("lower for 3 of 3")
