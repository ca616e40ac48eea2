"""The gap report: ratios to no TD and to the fixed widths, costs, and the Pareto front."""

import pandas as pd
import pytest

from tridrop.gap import costs, front_summary, gap_table, pareto
from tridrop.registry import AUTOENCODER


def rows(model: str, seed: int, values: dict[int, float]) -> list[dict]:
    return [
        {"experiment": "x", "model": model, "seed": seed, "width": w, "metric": "mse", "value": v}
        for w, v in values.items()
    ]


def test_gap_table_ratios_costs_and_front():
    sweeps = pd.DataFrame(
        rows("notd", 0, {1: 8.0, 2: 4.0, 4: 1.0})
        + rows("td", 0, {1: 2.0, 2: 1.5, 4: 1.5})
        + rows("td", 1, {1: 2.0, 2: 1.5, 4: 1.5})
        + rows("mix", 0, {1: 3.0, 2: 2.0, 4: 1.1})
        + rows("bad", 0, {1: 4.0, 2: 3.0, 4: 1.6})
        + rows("fixed", 0, {1: 1.0})
        + rows("fixed", 0, {2: 1.0})
        + rows("pca", 0, {1: 9.0, 2: 9.0, 4: 9.0})
        # No TD's training-free cuts: controls, with no training cost of their own.
        + rows("notd_meanfill", 0, {1: 3.0, 2: 2.0, 4: 1.0})
        + rows("notd_pca", 0, {1: 2.0, 2: 1.5, 4: 1.0})
        + rows("notd_greedy", 0, {1: 2.5, 2: 1.8, 4: 1.0})
    )
    cost = pd.DataFrame([
        costs({"train": {"seed": s, "epochs": e}, "history": [{"seconds": t}],
               "forward_passes": p}, m)
        for m, s, t, p, e in [("notd", 0, 10, 100, 5), ("td", 0, 10, 100, 5),
                              ("td", 1, 30, 100, 5), ("mix", 0, 20, 300, 15), ("bad", 0, 10, 100, 5)]
    ])  # fmt: skip
    t = gap_table(sweeps, cost, AUTOENCODER, "mse").set_index("model")
    assert set(t.index) == {"notd", "td", "mix", "bad"}  # no fixed, no pca, no controls
    assert t.at["td", "full"] == 1.5 and t.at["td", "fixed_w2"] == 1.5
    assert t.at["td", "fixed_geomean"] == pytest.approx((2.0 * 1.5) ** 0.5)
    assert t.at["td", "fixed_worst"] == 2.0 and t.at["td", "seeds"] == 2
    assert t.at["td", "time"] == 2.0 and t.at["td", "time_std"] > 0 and t.at["mix", "passes"] == 3
    # notd (best at full width), mix and td are not beaten on both axes; bad is.
    assert t["pareto"].to_dict() == {"notd": True, "td": True, "mix": True, "bad": False}
    assert t.at["mix", "epochs"] == 15 and t.at["td", "epochs"] == 5
    # The page says which budget each ratio comes from: mix trained longer than the references.
    from tridrop.gap import budgets, markdown

    assert "references trained 5 epochs; mix (15) trained longer" in budgets(t.reset_index())
    assert "| epochs |" in markdown(t.reset_index()).splitlines()[0].replace(" Pareto |", "")
    assert "`notd`" in front_summary(t.reset_index()) and "bad" not in front_summary(
        t.reset_index()
    )


def test_pareto_ignores_missing_values_and_keeps_ties():
    x = pd.Series([1.0, 1.0, 2.0, float("nan")])
    y = pd.Series([2.0, 2.0, 1.0, 0.5])
    assert pareto(x, y).tolist() == [True, True, True, False]


def test_front_summary_says_when_a_cost_was_not_recorded():
    # Model files written before pass counting carry no forward_passes: the gap table has NaN.
    table = pd.DataFrame([
        {"model": "notd", "full": 1.0, "fixed_geomean": 4.7, "fixed_worst": 6.6,
         "passes": float("nan"), "time": 1.0, "pareto": True},
        {"model": "td", "full": 1.2, "fixed_geomean": 1.3, "fixed_worst": 1.7,
         "passes": 1.0, "time": 0.84, "pareto": True},
    ])  # fmt: skip
    text = front_summary(table)
    assert "nan" not in text.lower()
    assert "forward passes not recorded and 1x its wall time" in text
    assert "1x its forward passes and 0.84x its wall time" in text


def test_the_head_gap_report_is_in_top1_error_with_costs_from_each_objective(tmp_path):
    """Heads: error = 1 - top-1 over no TD's at full width and over the head trained at each
    width; passes from the model files (one per epoch where a file predates their record);
    the pretrained reference (no cost: not trained here) and the controls stay out."""
    import json

    from tridrop.evaluation import COLUMNS
    from tridrop.families.head import jobs
    from tridrop.files import read_csv
    from tridrop.specs import Gap

    def top1(model, seed, values):
        return [r | {"metric": "top1"} for r in rows(model, seed, values)]

    sweeps = pd.DataFrame(
        top1("notd", 0, {2: 0.2, 8: 0.9})
        + top1("td", 0, {2: 0.6, 8: 0.8})
        + top1("matryoshka", 0, {2: 0.7, 8: 0.85})
        + top1("fixed", 0, {2: 0.8})
        + top1("reference", 0, {8: 0.9})
        + top1("svd", 0, {2: 0.5, 8: 0.9})
    )[COLUMNS]
    sweeps.to_csv(tmp_path / "sweeps.csv", index=False)
    arch = {"in_features": 3136, "hidden": 512, "classes": 10, "model": {"hidden": 512}}
    metas = []
    for name, extra in (
        ("notd", {}),  # written before passes were recorded: plain, 10 epochs
        ("td", {"forward_passes": 10.0}),
        ("matryoshka", {"objective": {"loss": "matryoshka"}}),
        ("fixed2", {}),
    ):
        meta = {"arch": arch, "train": {"seed": 0, "epochs": 10}, "history": [{"seconds": 5}]}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(meta | extra))
        metas.append(path)
    out = tmp_path / "gap.csv"
    spec = Gap("x", models=("notd", "td", "matryoshka", "fixed"))
    jobs.gap(spec, sweeps=tmp_path / "sweeps.csv", meta=metas, out=out)
    t = read_csv(out, ["model", "full", "fixed_w2", "passes"]).set_index("model")
    assert set(t.index) == {"notd", "td", "matryoshka"}
    assert t.at["td", "full"] == pytest.approx(0.2 / 0.1)
    assert t.at["td", "fixed_w2"] == pytest.approx(0.4 / 0.2)
    assert t.at["matryoshka", "fixed_w2"] == pytest.approx(0.3 / 0.2)
    assert t.at["td", "passes"] == 1.0 and t.at["matryoshka", "passes"] == pytest.approx(
        2.28, abs=0.01
    )
