"""Claims: measured from aggregated tables, held or not against the stated thresholds."""

import pandas as pd

from tridrop.claims import COLUMNS, combine, markdown
from tridrop.families.autoencoder.claims import autoencoder_claims
from tridrop.families.autoencoder.specs import AutoencoderClaims


def tables(td_mse, notd_mse, fixed_mse, importance, lower, upper):
    rows = []
    for model, values in (("td", td_mse), ("notd", notd_mse)):
        for seed in (0, 1):
            rows += [("e", model, seed, w + 1, "mse", v) for w, v in enumerate(values)]
    rows += [("e", "fixed", 0, w, "mse", v) for w, v in fixed_mse.items()]
    sweeps = pd.DataFrame(rows, columns=["experiment", "model", "seed", "width", "metric", "value"])
    imp = pd.DataFrame({"experiment": "e", "model": "td", "seed": 0, "unit": range(4),
                        "metric": "importance", "value": importance})  # fmt: skip
    dep = pd.DataFrame(
        [("e", "td", 0, i, j, "dependence", lower if i > j else upper)
         for i in range(4) for j in range(4) if i != j],
        columns=["experiment", "model", "seed", "unit", "removed", "metric", "value"],
    )  # fmt: skip
    return sweeps, imp, dep


def test_claims_that_hold():
    t = tables([0.4, 0.2, 0.1, 0.05], [0.9, 0.8, 0.5, 0.04], {1: 0.35, 2: 0.19},
               [4.0, 3.0, 2.0, 1.0], lower=1.0, upper=0.1)  # fmt: skip
    df = autoencoder_claims(*t, AutoencoderClaims("e"))
    paper = df[df["metric"] != "gap_closed_score"]  # TD alone does not close the gap here
    assert list(df.columns) == COLUMNS and paper["held"].all()
    by = df.set_index("metric")["value"]
    assert by["spearman_rho_unit_importance"] == -1.0
    assert abs(by["share_below_diagonal"] - 1.0 / 1.1) < 1e-12
    assert abs(by["mse_ratio_td_fixed_w2"] - 0.2 / 0.19) < 1e-12
    assert abs(by["mse_ratio_td_notd_full"] - 0.05 / 0.04) < 1e-12


def test_pcaae_and_gap_closing_claims():
    sweeps, imp, dep = tables([0.4, 0.2, 0.1, 0.05], [0.9, 0.8, 0.5, 0.04], {1: 0.35, 2: 0.19},
                              [4.0, 3.0, 2.0, 1.0], lower=1.0, upper=0.1)  # fmt: skip
    extra = [("e", "pcaae", 0, w, "mse", v) for w, v in ((1, 0.4), (2, 0.1))]
    # "mix" is within 1.05x of notd at full width and 1.10x of the fixed widths at each.
    extra += [("e", "mix", 0, w + 1, "mse", v) for w, v in enumerate([0.38, 0.2, 0.1, 0.041])]
    sweeps = pd.concat([sweeps, pd.DataFrame(extra, columns=sweeps.columns)])
    df = autoencoder_claims(sweeps, imp, dep, AutoencoderClaims("e")).set_index("metric")
    assert abs(df.at["mse_ratio_td_pcaae_geomean", "value"] - 2**0.5) < 1e-12
    assert not df.at["mse_ratio_td_pcaae_geomean", "held"]
    score = max(0.041 / 0.04 / 1.05, 0.38 / 0.35 / 1.1, 0.2 / 0.19 / 1.1)
    assert abs(df.at["gap_closed_score", "value"] - score) < 1e-12
    assert df.at["gap_closed_score", "held"] and "best: mix" in df.at["gap_closed_score", "claim"]


def test_claims_that_fail_are_reported_not_hidden(tmp_path):
    t = tables([0.1, 0.2, 0.1, 0.3], [0.9, 0.8, 0.5, 0.01], {1: 0.01},
               [1.0, 2.0, 3.0, 4.0], lower=0.1, upper=1.0)  # fmt: skip
    df = autoencoder_claims(*t, AutoencoderClaims("e"))
    assert not df["held"].any()
    df.to_csv(tmp_path / "e.csv", index=False)
    both = combine([tmp_path / "e.csv", tmp_path / "e.csv"])
    assert len(both) == 2 * len(df) and "| e |" in markdown(both)


def test_tally_counts_held_claims_per_experiment():
    import pandas as pd

    from tridrop.claims import tally

    df = pd.DataFrame({"experiment": ["a", "a", "b"], "held": [True, False, True]})
    assert tally(df) == {"a": {"held": 1, "tested": 2}, "b": {"held": 1, "tested": 1},
                         "all": {"held": 2, "tested": 3}}  # fmt: skip


def test_a_one_unit_latent_is_refused_not_nan():
    """latent 1: no order, no dependence, no trend (Spearman NaN, 0/0 share): say so."""
    import pytest

    sweeps = pd.DataFrame([("e", "td", 0, 1, "mse", 0.1)],
                          columns=["experiment", "model", "seed", "width", "metric", "value"])  # fmt: skip
    imp = pd.DataFrame({"experiment": ["e"], "model": "td", "seed": 0, "unit": 0,
                        "metric": "importance", "value": 0.1})  # fmt: skip
    dep = pd.DataFrame(
        columns=["experiment", "model", "seed", "unit", "removed", "metric", "value"]
    )
    with pytest.raises(ValueError, match="latent layer of 1 unit; the claims .* need at least 2"):
        autoencoder_claims(sweeps, imp, dep, AutoencoderClaims("e"))
