"""Claims: a contrast with a control, an interval over seeds, and a verdict that can go either
way (each verdict is reached by a constructed case)."""

import math

import numpy as np
import pandas as pd
import pytest

from tridrop.claims import COLUMNS, claim, combine, headline, interval, markdown, tally, verdict
from tridrop.families.autoencoder.claims import autoencoder_claims, equivalent_width
from tridrop.families.autoencoder.specs import AutoencoderClaims

SWEEP = ["experiment", "model", "seed", "width", "metric", "value"]


def test_interval_is_the_t_interval_over_seeds_and_geometric_for_ratios():
    mean, low, high = interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and abs(high - 2.0 - 4.302653 * 1 / math.sqrt(3)) < 1e-5
    g, lo, hi = interval([1.0, 4.0], log=True)
    assert abs(g - 2.0) < 1e-12 and abs(lo * hi - 4.0) < 1e-9  # symmetric in log space
    assert all(math.isnan(x) for x in interval([1.5])[1:])  # one seed: no interval
    with pytest.raises(ValueError, match="finite"):
        interval([1.0, float("nan")])


@pytest.mark.parametrize(
    ("per_seed", "control", "expected"),
    [
        ([1.10, 1.12, 1.11], 2.0, "held"),  # the whole interval passes; the control fails
        ([1.10, 1.12, 1.11], 1.2, "not discriminating"),  # the control passes too
        ([1.60, 1.70, 1.65], 2.0, "failed"),  # the whole interval fails
        ([1.09, 1.12, 1.30], 2.0, "inconclusive"),  # the interval straddles 1.2
        ([1.10], 2.0, "inconclusive"),  # one seed: no interval
    ],
)
def test_every_verdict_can_occur(per_seed, control, expected):
    row = claim("ratio <= 1.2", "m", per_seed, 1.2, "<=", "ctrl", control)
    assert row["verdict"] == expected and row["seeds"] == len(per_seed)


def test_verdict_reads_the_direction_of_the_comparison():
    assert verdict(0.9, 0.95, 0.92, 0.8, ">=") == "held"
    assert verdict(0.9, 0.95, 0.92, 0.8, "<=") == "failed"
    assert verdict(0.7, 0.95, 0.9, 0.8, ">=", control=0.85) == "inconclusive"


def sweeps(td, notd, fixed, seeds=(0, 1, 2), extra=()):
    """Per-seed MSE rows: ``td`` and ``notd`` curves (widths 1..), ``fixed`` {width: mse}; each
    seed scales them a little, as seeds do."""
    rows = []
    for s in seeds:
        f = 1 + 0.01 * s
        rows += [("e", "td", s, w + 1, "mse", v * f) for w, v in enumerate(td)]
        rows += [("e", "notd", s, w + 1, "mse", v * f) for w, v in enumerate(notd)]
        rows += [("e", "fixed", s, w, "mse", v * f) for w, v in fixed.items()]
        rows += [
            ("e", m, s, w + 1, "mse", v * f) for m, curve in extra for w, v in enumerate(curve)
        ]
    return pd.DataFrame(rows, columns=SWEEP)


def features(importance: dict[str, list[float]], seeds=(0, 1, 2)):
    """Importance rows per model and seed, and a dependence table made from contributions
    alone (Dep[i, j] = 1 / C_i, symmetric interaction), as today's metric is."""
    imp, dep = [], []
    for model, values in importance.items():
        for s in seeds:
            imp += [("e", model, s, u, "importance", v) for u, v in enumerate(values)]
            dep += [("e", model, s, i, j, "dependence", 1 / values[i])
                    for i in range(len(values)) for j in range(len(values)) if i != j]  # fmt: skip
    return (
        pd.DataFrame(imp, columns=["experiment", "model", "seed", "unit", "metric", "value"]),
        pd.DataFrame(dep, columns=["experiment", "model", "seed", "unit", "removed", "metric", "value"]),
    )  # fmt: skip


def order(rows: dict[str, tuple[list[float], float]], seeds=(0, 1, 2)) -> pd.DataFrame:
    """An order-at-the-top table: per model, prefix optimality at widths 1..k and the share of
    ordered adjacent pairs (at width k)."""
    out = []
    for model, (ratios, pairs) in rows.items():
        for s in seeds:
            k = len(ratios)
            out += [("e", model, s, w + 1, "prefix_optimality", r) for w, r in enumerate(ratios)]
            out.append(("e", model, s, k, "adjacent_ordered", pairs))
    return pd.DataFrame(out, columns=SWEEP)


def test_autoencoder_claims_are_contrasts_with_their_controls():
    td = [0.40, 0.20, 0.10, 0.05]
    notd = [0.90, 0.80, 0.50, 0.04]
    imp, dep = features({"td": [4.0, 3.0, 2.0, 1.0], "notd": [1.0, 3.0, 2.0, 4.0]})
    top = order({"td": ([1.0, 1.0, 1.02], 1.0), "notd": ([1.3, 1.2, 1.1], 1 / 3),
                 "notd_sorted": ([1.0, 1.01, 1.02], 1.0)})  # fmt: skip
    t = sweeps(td, notd, {1: 0.35, 2: 0.19})
    df = autoencoder_claims(t, imp, dep, AutoencoderClaims("e"), top)
    assert list(df.columns) == COLUMNS
    by = df.set_index("metric")
    assert by.at["ordered_pairs_top3", "value"] == 1.0
    assert by.at["ordered_pairs_top3", "control_value"] == 1 / 3  # notd in its own order
    assert by.at["ordered_pairs_top3", "verdict"] == "held"  # the same at every seed
    # No TD re-sorted by importance is as near the best subsets: not discriminating.
    assert by.at["prefix_optimality_top3", "value"] == pytest.approx(1.02 ** (1 / 3))
    assert by.at["prefix_optimality_top3", "verdict"] == "not discriminating"
    # Today's dependence share restates the importance order: no TD re-sorted passes as well.
    assert by.at["share_below_diagonal", "verdict"] == "not discriminating"
    assert (
        abs(by.at["share_below_diagonal", "control_value"] - by.at["share_below_diagonal", "value"])
        < 1e-12
    )
    ratio = by.loc["mse_ratio_td_fixed_w2"]
    assert abs(ratio["value"] - 0.2 / 0.19) < 1e-9 and ratio["verdict"] == "held"
    assert ratio["control"].startswith("notd") and abs(ratio["control_value"] - 0.8 / 0.19) < 1e-9
    assert by.at["units_to_match_fixed_w1", "value"] == pytest.approx(
        1 + math.log(0.4 / 0.35) / math.log(2), rel=1e-3
    )
    assert "spearman_rho_width_mse" not in by.index  # a sanity check, not a claim


def test_a_training_free_cut_that_passes_makes_a_claim_not_discriminating():
    td = [0.40, 0.20, 0.10, 0.05]
    notd = [0.90, 0.80, 0.50, 0.04]
    greedy = [0.36, 0.20, 0.10, 0.04]  # no TD's units in a greedy order: as good as TD
    imp, dep = features({"td": [4.0, 3.0, 2.0, 1.0]})
    t = sweeps(td, notd, {1: 0.35, 2: 0.19}, extra=[("notd_greedy", greedy)])
    by = autoencoder_claims(t, imp, dep, AutoencoderClaims("e")).set_index("metric")
    assert by.at["mse_ratio_td_fixed_w2", "verdict"] == "not discriminating"
    assert by.at["mse_ratio_td_fixed_w2", "control"].startswith("notd_greedy")


def test_claims_that_fail_are_reported_not_hidden(tmp_path):
    imp, dep = features({"td": [1.0, 2.0, 3.0, 4.0]})
    t = sweeps([0.1, 0.2, 0.1, 0.3], [0.9, 0.8, 0.5, 0.01], {1: 0.01})
    df = autoencoder_claims(t, imp, dep, AutoencoderClaims("e"))
    assert (df["verdict"] == "failed").sum() >= 3
    df.to_csv(tmp_path / "e.csv", index=False)
    both = combine([tmp_path / "e.csv", tmp_path / "e.csv"])
    assert len(both) == 2 * len(df) and "| e |" in markdown(both) and "**failed**" in markdown(both)


def test_pcaae_and_gap_closing_claims():
    mix = [0.38, 0.2, 0.1, 0.041]  # within 1.05x of notd at full width and 1.10x of fixed
    t = sweeps([0.4, 0.2, 0.1, 0.05], [0.9, 0.8, 0.5, 0.04], {1: 0.35, 2: 0.19},
               extra=[("mix", mix), ("pcaae", [0.4, 0.1])])  # fmt: skip
    imp, dep = features({"td": [4.0, 3.0, 2.0, 1.0]})
    df = autoencoder_claims(t, imp, dep, AutoencoderClaims("e")).set_index("metric")
    assert df.at["mse_ratio_td_pcaae_geomean", "value"] == pytest.approx(2**0.5)
    assert df.at["mse_ratio_td_pcaae_geomean", "verdict"] == "failed"
    score = max(0.041 / 0.04 / 1.05, 0.38 / 0.35 / 1.1, 0.2 / 0.19 / 1.1)
    assert df.at["gap_closed_score", "value"] == pytest.approx(score)
    assert (
        df.at["gap_closed_score", "verdict"] == "held"
        and "best: mix" in df.at["gap_closed_score", "claim"]
    )


def test_width_equivalence_interpolates_and_says_never():
    curve = pd.Series([0.4, 0.2, 0.1, 0.05], index=[1, 2, 3, 4])
    assert equivalent_width(curve, 0.2) == 2.0
    assert equivalent_width(curve, 0.5) == 1.0
    assert equivalent_width(curve, 0.01) == 5.0  # never reached: one more than the widest
    assert equivalent_width(curve, math.sqrt(0.2 * 0.1)) == pytest.approx(2.5)


def test_tally_counts_each_verdict_per_experiment():
    df = pd.DataFrame({"experiment": ["a", "a", "b"], "verdict": ["held", "failed", "held"]})
    t = tally(df)
    assert t["a"] == {
        "tested": 2,
        "held": 1,
        "failed": 1,
        "inconclusive": 0,
        "not discriminating": 0,
    }
    assert t["all"]["held"] == 2 and t["all"]["tested"] == 3
    assert headline(df).startswith("3 claims tested: 2 held, 1 failed, 0 inconclusive")


def test_a_one_unit_latent_is_refused_not_nan():
    """latent 1: no order, no dependence, no trend (Spearman NaN, 0/0 share): say so."""
    t = pd.DataFrame([("e", "td", 0, 1, "mse", 0.1)], columns=SWEEP)
    imp, dep = features({"td": [0.1]})
    with pytest.raises(ValueError, match="latent layer of 1 unit; the claims .* need at least 2"):
        autoencoder_claims(t, imp, dep, AutoencoderClaims("e"))


def test_committed_claims_carry_every_column_and_a_verdict():
    from conftest import ROOT

    for preset in ("demo", "fashion"):
        df = pd.read_csv(ROOT / f"results/{preset}/claims.csv")
        assert list(df.columns) == COLUMNS, preset
        assert df["verdict"].isin(["held", "failed", "inconclusive", "not discriminating"]).all()
        assert np.isfinite(df["value"]).all()


def gating(splits: dict[str, float], width=4, seeds=(0, 1, 2)) -> pd.DataFrame:
    """Gating rows: split[i, j] = ``below`` for i > j and 1 - below above the diagonal."""
    rows = [("e", m, s, i, j, "gating", below if i > j else 1 - below)
            for m, below in splits.items() for s in seeds
            for i in range(width) for j in range(width) if i != j]  # fmt: skip
    return pd.DataFrame(
        rows, columns=["experiment", "model", "seed", "unit", "removed", "metric", "value"]
    )


@pytest.mark.parametrize(("below", "expected"), [(0.9, "held"), (0.5, "failed")])
def test_the_gating_claim_is_read_from_its_own_rows(below, expected):
    imp, dep = features({"td": [4.0, 3.0, 2.0, 1.0], "notd": [1.0, 2.0, 3.0, 4.0]})
    # notd's units, re-sorted by importance, reverse its order: its split below becomes 0.3.
    dep = pd.concat([dep, gating({"td": below, "notd": 0.7})])
    t = sweeps([0.4, 0.2, 0.1, 0.05], [0.9, 0.8, 0.5, 0.04], {1: 0.35})
    by = autoencoder_claims(t, imp, dep, AutoencoderClaims("e")).set_index("metric")
    assert by.at["gating_share", "value"] == pytest.approx(below)
    assert by.at["gating_share", "control_value"] == pytest.approx(0.3)
    assert by.at["gating_share", "verdict"] == expected
    # The old share reads only the dependence rows: 1/C_i normalisation, lower triangle.
    assert by.at["share_below_diagonal", "value"] > 0.5
