"""Budget series: TD's price over its references at each budget, the claims that training longer
shrinks it, learning curves from the runs' metadata, and the jobs that write them."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tridrop.families.autoencoder import jobs, tuning
from tridrop.families.autoencoder.budget import (
    budget_claims,
    curves,
    prefix_mismatches,
    ratios,
)
from tridrop.families.autoencoder.specs import Budget, BudgetFigure
from tridrop.files import read_csv, write_csv

# TD's MSE over the references' after 10 and 30 epochs, per seed: the price over no TD falls
# from 0.2 to 0.05 (a quarter: held), over the width-2 AE from 0.5 to 0.4 (4/5: failed).
PRICES = {(10, "notd"): 1.2, (30, "notd"): 1.05, (10, "fixed"): 1.5, (30, "fixed"): 1.4}


def sweeps(seeds=(0, 1, 2)) -> pd.DataFrame:
    rows = []
    for epochs in (10, 30):
        base = 1.0 / epochs
        for seed in seeds:
            jitter = 1 + 0.01 * seed
            ref = {"notd": (4, base), "fixed": (2, 2 * base)}
            for model, (width, mse) in ref.items():
                rows.append([f"e{epochs}", model, seed, width, "mse", mse])
                td = mse * (1 + (PRICES[epochs, model] - 1) * jitter)
                rows.append([f"e{epochs}", "td", seed, width, "mse", td])
            rows.append([f"e{epochs}", "td", seed, 1, "mse", 9.0])
    return pd.DataFrame(rows, columns=["experiment", "model", "seed", "width", "metric", "value"])


def test_ratios_pair_td_with_each_reference_by_seed():
    r = ratios(sweeps(), {"e10": 10, "e30": 30})
    assert set(r["reference"]) == {"notd at full width", "fixed at 2"}
    full = r[(r["reference"] == "notd at full width") & (r["epochs"] == 10)]
    assert full["width"].tolist() == [4, 4, 4]
    assert full["ratio"].tolist() == pytest.approx([1.2, 1.202, 1.204])
    with pytest.raises(ValueError, match="seed 3 has no"):
        extra = pd.DataFrame([["e10", "td", 3, 4, "mse", 1.0]], columns=sweeps().columns)
        ratios(pd.concat([sweeps(), extra]), {"e10": 10, "e30": 30})


def test_training_longer_is_held_only_where_the_price_at_least_halves():
    table = budget_claims(ratios(sweeps(), {"e10": 10, "e30": 30}), "e10", 0.5)
    verdict = dict(zip(table["claim"].str.extract(r"over (.*)$")[0], table["verdict"], strict=True))
    assert verdict == {"notd at full width": "held", "fixed at 2": "failed"}
    value = dict(zip(table["claim"].str.extract(r"over (.*)$")[0], table["value"], strict=True))
    assert value == pytest.approx({"notd at full width": 0.25, "fixed at 2": 0.8})
    assert (table["experiment"] == "e10").all() and (table["seeds"] == 3).all()
    with pytest.raises(ValueError, match="two budgets"):
        budget_claims(ratios(sweeps(), {"e10": 10, "e30": 10}), "e10", 0.5)


def history(epochs: int, shift: float = 0.0) -> list[dict]:
    return [
        {"epoch": e, "loss": 1 / e + shift, "val_loss": 1.1 / e, "seconds": 1.0}
        for e in range(1, epochs + 1)
    ]


def test_learning_curves_and_the_check_that_a_short_run_starts_the_long_one():
    runs = [("e10", "td", 0, history(2)), ("e30", "td", 0, history(4))]
    c = curves(runs)
    assert len(c) == 2 * (2 + 4) and set(c["split"]) == {"train", "val"}
    assert prefix_mismatches(c) == []
    assert prefix_mismatches(curves([runs[0], ("e30", "td", 0, history(4, 0.1))])) == [
        "e10/td/seed0"
    ]


def test_the_budget_jobs_write_the_table_the_curves_the_claims_and_the_figure(tmp_path):
    df = sweeps()
    paths, meta, runs = [], [], []
    for e in ("e10", "e30"):
        write_csv(df[df["experiment"] == e], p := tmp_path / f"{e}.csv")
        paths.append(str(p))
        for model in ("td", "notd", "fixed2"):
            for seed in (0, 1, 2):
                m = tmp_path / f"{e}_{model}_{seed}.json"
                m.write_text(json.dumps({"history": history(int(e[1:]))}))
                meta.append(str(m))
                runs.append(f"{e}/{model}/{seed}")
    spec = Budget("e10", ("e10", "e30"), (10, 30), tuple(runs), 0.5)
    out, curve, claims = (tmp_path / n for n in ("budget.csv", "curves.csv", "claims.csv"))
    jobs.budget(spec, sweeps=paths, meta=meta, out=str(out), curves=str(curve), claims=str(claims))
    assert len(read_csv(out)) == 2 * 2 * 3 and len(read_csv(claims)) == 2
    assert set(read_csv(curve)["model"]) == {"td", "notd", "fixed2"}
    png = tmp_path / "budget.png"
    jobs.plot_budget(BudgetFigure("e10"), table=str(out), curves=str(curve), png=str(png))
    assert png.stat().st_size > 10_000 and png.with_suffix(".pdf").exists()
    with pytest.raises(ValueError, match="metadata files for"):
        jobs.budget(
            Budget("e10", ("e10", "e30"), (10, 30), tuple(runs[:-1]), 0.5),
            sweeps=paths,
            meta=meta,
            out=str(out),
            curves=str(curve),
            claims=str(claims),
        )


def test_each_model_takes_the_rate_of_its_lowest_validation_loss_and_td_is_tested_there():
    """TD does best at 1e-3, the fixed-width AE at 3e-3, no TD at 1e-3: the claims pair TD's
    runs at 1e-3 with the fixed AE's at 3e-3, seed by seed; its control is no TD's best cut."""
    lrs = {"a": 0.001, "b": 0.003}
    val = {("a", "td"): 0.5, ("b", "td"): 0.6, ("a", "fixed2"): 0.4, ("b", "fixed2"): 0.3,
           ("a", "notd"): 0.2, ("b", "notd"): 0.25}  # fmt: skip
    runs = [
        (e, m, s, [{"epoch": 1, "loss": 1.0, "val_loss": v + 0.01 * s}])
        for (e, m), v in val.items()
        for s in (0, 1, 2)
    ]
    choice = tuning.choices(curves(runs), lrs)
    assert tuning.chosen(choice) == {"td": 0.001, "fixed2": 0.003, "notd": 0.001}
    rows = []
    for e, f in (("a", 1.0), ("b", 0.5)):  # at 3e-3 the fixed AE's MSE halves
        for s in (0, 1, 2):
            rows += [[e, "td", s, 2, "mse", 1.2 + 0.01 * s], [e, "td", s, 4, "mse", 1.0],
                     [e, "notd", s, 4, "mse", 0.9], [e, "fixed", s, 2, "mse", f],
                     [e, "pca", s, 4, "mse", 1.8],
                     [e, "notd", s, 2, "mse", 3.0], [e, "notd_pca", s, 2, "mse", 2.0]]  # fmt: skip
    df = pd.DataFrame(rows, columns=["experiment", "model", "seed", "width", "metric", "value"])
    found = tuning.tuned_claims(df, choice, lrs, "a", full_gap=1.5, fixed_ratio=1.5)
    full, fixed = found.iloc[0], found.iloc[1]
    assert full["value"] == pytest.approx(1.0 / 0.9) and full["verdict"] == "held"
    assert full["control"] == "PCA with 4 components" and full["control_value"] == 2.0
    assert fixed["value"] == pytest.approx(2.42, rel=0.01)  # 1.21 / 0.5, not / 1.0
    assert fixed["verdict"] == "failed" and "fixed at 0.003" in fixed["claim"]
    assert fixed["control"].startswith("no TD's best training-free cut (notd_pca)")
    assert fixed["control_value"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="val_fraction"):
        tuning.choices(curves([("a", "td", 0, [{"epoch": 1, "loss": 1.0}])]), lrs)


def test_the_results_page_reports_the_bad_mode_with_a_wilson_interval():
    from tridrop.families.autoencoder.pages import mode_lines, wilson

    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    rows = [["e", m, s, 2, "mse", v] for s in range(10) for m, v in
            (("td", 1.9 if s < 3 else 1.4), ("fixed", 1.0))]  # fmt: skip
    df = pd.DataFrame(rows, columns=["experiment", "model", "seed", "width", "metric", "value"])
    text = "\n".join(mode_lines(df, 1.6))
    assert "**3 of 10 seeds**, 30%" in text and "11%-60%" in text
    assert mode_lines(df[df["seed"] < 3], 1.6) == []  # too few seeds to say how often


def test_the_results_page_shows_each_series_as_a_table(tmp_path):
    from tridrop.families.autoencoder.pages import study_sections

    (tmp_path / "tables").mkdir()
    write_csv(ratios(sweeps(), {"e10": 10, "e30": 30}), tmp_path / "tables" / "e10_budget.csv")
    write_csv(curves([("e30", "td", 0, history(4))]), tmp_path / "tables" / "e10_curves.csv")
    text = "\n".join(study_sections(tmp_path))
    assert "| TD / reference | 10 epochs | 30 epochs |" in text
    assert "| notd at full width | 1.202 [1.197, 1.207] | 1.051" in text
    assert "| td | 0.27500 | 4 | 0.27500 |" in text  # val loss 1.1/epoch: lowest at the end


def test_the_learning_rate_jobs_write_the_choices_the_claims_and_the_figure(tmp_path):
    from tridrop.families.autoencoder.specs import LearningRates

    df = sweeps().replace({"experiment": {"e10": "a", "e30": "b"}})
    df = pd.concat([df, df[df["model"] == "notd"].assign(model="notd_pca")])
    paths, meta, runs = [], [], []
    for e, shift in (("a", 0.0), ("b", 0.1)):
        write_csv(df[df["experiment"] == e], p := tmp_path / f"{e}.csv")
        paths.append(str(p))
        for model in ("td", "notd", "fixed2"):
            for seed in (0, 1, 2):
                m = tmp_path / f"{e}_{model}_{seed}.json"
                m.write_text(json.dumps({"history": history(3, shift)}))
                meta.append(str(m))
                runs.append(f"{e}/{model}/{seed}")
    spec = LearningRates("a", ("a", "b"), (0.001, 0.003), tuple(runs))
    out, choice, claims = (tmp_path / n for n in ("lr.csv", "choice.csv", "claims.csv"))
    jobs.learning_rates(
        spec, sweeps=paths, meta=meta, out=str(out), choice=str(choice), claims=str(claims)
    )
    picked = read_csv(choice)
    assert len(picked) == 3 * 2 and picked["chosen"].sum() >= 3
    assert set(read_csv(claims)["metric"]) == {"mse_ratio"} and len(read_csv(claims)) == 2
    png = tmp_path / "lr.png"
    jobs.plot_learning_rates(BudgetFigure("a"), table=str(out), choice=str(choice), png=str(png))
    assert png.stat().st_size > 10_000
