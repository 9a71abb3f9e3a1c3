import math

import pytest

from rnnlab.noise import compare, compare_stats


def test_a_gap_beyond_twice_the_larger_spread_is_a_verdict():
    c = compare([4.0, 4.2, 4.1], [5.0, 5.1, 4.9])
    assert c.gap == pytest.approx(-0.9) and c.noise == pytest.approx(0.2)
    assert c.beyond_noise and c.verdict() == "lower than"
    assert compare([5.0, 5.1, 4.9], [4.0, 4.2, 4.1]).verdict(higher="worse than") == "worse than"


def test_a_gap_inside_the_noise_is_within_noise():
    c = compare([4.0, 4.6], [4.2, 4.3])          # gap -0.15, noise 2 * 0.42
    assert not c.beyond_noise and c.verdict() == "within noise of"


def test_one_run_gives_no_verdict():
    c = compare([4.0], [9.0, 9.1])
    assert c.noise is None and not c.judged and not c.beyond_noise
    assert c.verdict().startswith("not comparable")


def test_summary_statistics_and_nan_spreads():
    assert compare_stats(6.142, 0.119, 6.186, 0.058).verdict() == "within noise of"
    assert not compare_stats(7.48, float("nan"), 8.36, 0.02).judged
    assert compare_stats(7.48, 0.07, 8.36, 0.02).verdict() == "lower than"


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="at least one run"):
        compare([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        compare([math.nan, 1.0], [1.0, 2.0])


def test_best_and_runner_up_ranks_groups_of_runs():
    import pandas as pd

    from rnnlab.noise import best_and_runner_up

    table = pd.DataFrame({"H": [64, 64, 128, 128, 256, 256],
                          "valid_ppl": [6.0, 6.2, 5.0, 5.1, 5.05, 5.2]})
    best, second, c = best_and_runner_up(table, "H")
    assert (best, second) == (128, 256) and c.gap > 0 and not c.beyond_noise
    with pytest.raises(ValueError, match="two values"):
        best_and_runner_up(table[table["H"] == 64], "H")
