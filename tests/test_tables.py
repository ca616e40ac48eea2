"""Aggregation: summary statistics over seeds, plot data by width, headline metrics."""

import pandas as pd
import pytest

from tridrop.tables import by_width, combine, headline, summary


@pytest.fixture
def runs(tmp_path):
    paths = []
    for model, base in (("td", 1.0), ("notd", 2.0)):
        for seed in (0, 1):
            df = pd.DataFrame({"experiment": "digits", "model": model, "seed": seed,
                               "width": [1, 2], "metric": "mse",
                               "value": [base + seed, base / 2 + seed]})  # fmt: skip
            paths.append(tmp_path / f"{model}{seed}.csv")
            df.to_csv(paths[-1], index=False)
    return paths


def test_summary_over_seeds(runs):
    s = summary(combine(runs))
    row = s[(s["model"] == "td") & (s["width"] == 1)].iloc[0]
    assert row["mean"] == 1.5 and row["seeds"] == 2 and row["std"] == pytest.approx(0.7071, 1e-3)
    w = by_width(s, "mse")
    assert w.columns.tolist() == ["model", "width", "mean", "std", "seeds"]
    assert w[w["model"] == "td"]["mean"].tolist() == [1.5, 1.0]
    h = headline(s, [1, 5])
    assert h["digits"]["mse"]["notd"] == {"w1": 2.5, "full": 1.5}


def test_combine_needs_files():
    with pytest.raises(ValueError, match="no sweep files"):
        combine([])


def test_headline_full_is_the_experiments_full_width_only(runs, tmp_path):
    fixed = pd.DataFrame({"experiment": "digits", "model": "fixed", "seed": 0, "width": [1],
                          "metric": "mse", "value": [0.7]})  # fmt: skip
    fixed.to_csv(tmp_path / "fixed.csv", index=False)
    h = headline(summary(combine([*runs, tmp_path / "fixed.csv"])), [1])
    assert h["digits"]["mse"]["fixed"] == {"w1": 0.7}  # width 1 is not full width (2)
    assert h["digits"]["mse"]["td"]["full"] == 1.0
