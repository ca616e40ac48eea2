"""The classifier head: prefix-sum sweep equals masked evaluation, baselines, claims, DDP masks."""

import pandas as pd
import pytest
import torch

from tridrop.dropout import SharedWidth, triangular_mask
from tridrop.extract import narrow
from tridrop.families.head.claims import head_claims
from tridrop.families.head.evaluation import head_topk, prefix_logits, topk_correct
from tridrop.families.head.models import (
    count_params,
    head_params,
    importance_order,
    permute_units,
    svd_head,
    svd_params,
    svd_rank_for,
    td_head,
)
from tridrop.families.head.specs import HeadClaims

WIDTHS = [1, 2, 3, 5, 8, 13, 24]


def head(hidden=24, classes=7, in_features=11):
    torch.manual_seed(0)
    return td_head(in_features, hidden, classes).eval()


def test_prefix_sums_equal_masked_full_evaluation_at_every_width():
    model, x = head(), torch.randn(33, 11)
    logits = prefix_logits(model, x, WIDTHS[::-1])  # any order of widths
    for w, got in zip(WIDTHS[::-1], logits, strict=True):
        model.set_width(w)
        torch.testing.assert_close(got, model(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got, narrow(model, w)(x), rtol=1e-5, atol=1e-5)
    model.set_width(None)


def test_sweep_accuracy_equals_masked_evaluation():
    model = head()
    x, y = torch.randn(50, 11), torch.randint(0, 7, (50,))
    acc = head_topk(model, [(x[:20], y[:20]), (x[20:], y[20:])], WIDTHS, ks=(1, 5))
    for i, w in enumerate(WIDTHS):
        model.set_width(w)
        expect = topk_correct(model(x), y, (1, 5)) / 50
        torch.testing.assert_close(acc[i], expect)
    model.set_width(None)


def test_topk_counts_hits():
    logits = torch.tensor([[0.1, 0.9, 0.0], [0.8, 0.1, 0.3], [0.2, 0.3, 0.5]])
    assert topk_correct(logits, torch.tensor([1, 2, 0]), (1, 2)).tolist() == [1.0, 2.0]


def test_parameter_counts():
    model = head(hidden=24, classes=7, in_features=11)
    assert count_params(model) == head_params(11, 24, 24, 7)
    assert count_params(narrow(model, 5)) == head_params(11, 5, 5, 7)
    # VGG19's classifier: 123,642,856 parameters.
    assert head_params(25088, 4096, 4096, 1000) == 123_642_856


def test_importance_ranking_keeps_the_function_and_sorts_units():
    model, x = head(), torch.randn(40, 11)
    before = model(x)
    o1, o2 = importance_order(model, x)
    permute_units(model, o1, o2)
    torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)
    s1 = importance_order(model, x)[0]
    assert torch.equal(s1, torch.arange(24))  # already in order: most important first


def test_svd_head_matches_its_budget_and_is_exact_for_low_rank_layers():
    model, x = head(), torch.randn(9, 11)
    budget = head_params(11, 16, 16, 7)
    rank = svd_rank_for(11, 24, 7, budget)
    small = svd_head(model, rank)
    assert rank > 0 and count_params(small) == svd_params(11, 24, 7, rank) <= budget
    assert svd_params(11, 24, 7, rank + 1) > budget
    assert svd_rank_for(11, 24, 7, 10) == 0
    with torch.no_grad():  # hidden layers of rank 3: their rank-3 SVDs are exact
        model[0].weight.copy_(torch.randn(24, 3) @ torch.randn(3, 11))
        model[3].weight.copy_(torch.randn(24, 3) @ torch.randn(3, 24))
    exact = svd_head(model, 3)
    assert isinstance(exact[0], torch.nn.Sequential) and isinstance(exact[2], torch.nn.Sequential)
    torch.testing.assert_close(exact(x), model(x), rtol=1e-4, atol=1e-4)


def test_a_data_parallel_shard_keeps_its_positions_in_the_triangle():
    """Each of 2 processes holds every other sample; together they make the whole triangle."""
    td = td_head(3, 8, 2, "triangle")
    seen = {}

    def hook(module, inputs, output):
        seen["mask"] = (output != 0).float()

    td[2].register_forward_hook(hook)
    td.train()
    torch.nn.init.constant_(td[0].weight, 1.0)  # all units active on a positive input
    torch.nn.init.constant_(td[0].bias, 1.0)
    full = triangular_mask(10, 8)
    for rank in (0, 1):
        td.set_batch_shard(rank, 2, 10)
        td(torch.ones(5, 3))
        assert torch.equal(seen["mask"], full[rank::2])
    td.set_batch_shard(0, 1, None)
    td(torch.ones(5, 3))
    assert torch.equal(seen["mask"], triangular_mask(5, 8))
    assert isinstance(td, SharedWidth)


def table(td_top1, ref_top1=0.9, svd=0.7):
    rows = [("td", w, p, t) for w, p, t in zip([4, 2, 1], [100, 20, 8], td_top1, strict=True)]
    rows += [("reference", 4, 100, ref_top1), ("svd", 2, 20, svd), ("fixed", 1, 8, 0.5)]
    df = pd.DataFrame(rows, columns=["model", "width", "head_pct", "top1"])
    df["experiment"], df["head_params"] = "x", df["head_pct"] * 10
    return df


def seeds(td_top1, spread=(0.0, 0.004, -0.004)):
    """Per-seed top-1 rows of td around ``td_top1`` (by width 4, 2, 1)."""
    rows = [("x", "td", s, w, "top1", t + d)
            for s, d in enumerate(spread) for w, t in zip([4, 2, 1], td_top1, strict=True)]  # fmt: skip
    return pd.DataFrame(rows, columns=["experiment", "model", "seed", "width", "metric", "value"])


def test_claims_use_the_widest_width_within_each_budget_against_a_training_free_cut():
    top1 = [0.8, 0.78, 0.6]
    spec = HeadClaims(kept_25=0.95, kept_10=0.8, max_gap=0.15)
    claims = head_claims(table(top1), seeds(top1), spec)
    assert list(claims["metric"]) == ["top1_ratio", "top1_ratio", "top1_gap"]
    assert claims["value"].tolist() == pytest.approx([0.78 / 0.8, 0.6 / 0.8, 0.1], rel=1e-4)
    assert claims["verdict"].tolist() == ["held", "failed", "held"]  # width 1 alone: gap 0.4
    assert claims["control"].iloc[0] == "reference cut by svd, no training, 200 parameters"
    assert claims["control_value"].iloc[0] == pytest.approx(0.7 / 0.9)
    # The SVD of the reference keeps as much as TD: the budget claim cannot tell them apart.
    easy = head_claims(table(top1, svd=0.89), seeds(top1), spec)
    assert easy["verdict"].iloc[0] == "not discriminating"
    assert "width 2" in claims["claim"].iloc[0] and "width 1" in claims["claim"].iloc[1]


def test_the_full_width_gap_is_to_a_no_td_head_trained_as_long_where_there_is_one():
    """Matched training: with a notd head in the sweeps the gap is notd minus TD per seed
    (paired), not the reference's single number."""
    top1 = [0.8, 0.78, 0.6]
    notd = pd.DataFrame(
        [("x", "notd", s, 4, "top1", 0.83 + d) for s, d in enumerate((0.0, 0.002, -0.002))],
        columns=["experiment", "model", "seed", "width", "metric", "value"],
    )
    spec = HeadClaims(kept_25=0.95, kept_10=0.8, max_gap=0.02)
    claims = head_claims(table(top1), pd.concat([seeds(top1), notd]), spec)
    gap = claims[claims["metric"] == "top1_gap"].iloc[0]
    assert "retrained on the cache as long" in gap["claim"]
    assert gap["value"] == pytest.approx(0.03, abs=1e-9)  # not 0.1, the reference's gap
    assert gap["low"] < gap["high"] and gap["verdict"] == "failed"
    assert gap["control_value"] == pytest.approx(0.83 - 0.5)


def test_the_linear_probe_learns_separable_features_and_joins_the_table_at_width_0(tmp_path):
    """A control with no hidden layer: on features that a linear map separates it reaches
    top-1 1.0 (on shuffled labels, chance), and its row sits at width 0 with in x classes +
    classes parameters beside the heads' counts."""
    import numpy as np

    from tridrop.families.head import jobs
    from tridrop.families.head.feature_cache import write_index, write_shard
    from tridrop.families.head.specs import HeadProbe
    from tridrop.families.head.tables import PARAM_COLUMNS, accuracy_table
    from tridrop.files import read_csv
    from tridrop.specs import Rows, TrainSpec

    rng = np.random.default_rng(0)
    means = rng.normal(size=(4, 6)) * 4

    def cache(root, n, shuffle=False):
        y = rng.integers(0, 4, size=n)
        x = means[y] + rng.normal(size=(n, 6)) * 0.3
        write_shard(root, 0, x, rng.permutation(y) if shuffle else y)
        write_index(root, [n], 6, {"classes": list("abcd"), "backbone_params": 100})

    found = {}
    for name in ("separable", "shuffled"):
        cache(tmp_path / name / "train", 400, shuffle=name == "shuffled")
        cache(tmp_path / name / "val", 200, shuffle=name == "shuffled")
        train = TrainSpec(epochs=30, batch_size=32, lr=1e-2, seed=0, device="cpu")
        out, params = tmp_path / name / "probe.csv", tmp_path / name / "params.csv"
        spec = HeadProbe(Rows("x", "linear_probe", 0), 8, train)
        jobs.probe(spec, train=tmp_path / name / "train", val=tmp_path / name / "val",
                   out=out, params=params)  # fmt: skip
        rows = read_csv(out, ["experiment", "model", "seed", "width", "metric", "value"])
        found[name] = rows.set_index("metric")["value"]
        assert rows["width"].tolist() == [0, 0]
    assert found["separable"]["top1"] == 1.0
    assert found["shuffled"]["top1"] < 0.45 and found["shuffled"]["top5"] == 1.0  # 4 classes
    counts = read_csv(params, PARAM_COLUMNS)
    assert counts["head_params"].tolist() == [6 * 4 + 4]
    assert counts["head_fraction"].iloc[0] == pytest.approx(28 / head_params(6, 8, 8, 4), rel=1e-5)
    assert counts["network_params"].iloc[0] == 128
    t = accuracy_table(rows, counts, "x")
    assert t[["model", "width", "head_params"]].values.tolist() == [["linear_probe", 0, 28]]


def test_vgg19_budgets_are_its_units_per_class_and_controls_must_fit_the_td_head():
    """VGG19's head (25088-4096-4096-1000) keeps 1135 and 466 units at 25% and 10% of its
    parameters; budgets vgg19 take the widest TD width within those units per class times the
    classes, and a control (here the linear probe) counts only with no more parameters."""
    from tridrop.families.head.claims import vgg19_units_per_class

    full = head_params(25088, 4096, 4096, 1000)
    for share, w in ((0.25, 1135), (0.10, 465)):
        assert (
            head_params(25088, w, w, 1000) <= share * full < head_params(25088, w + 1, w + 1, 1000)
        )
        assert vgg19_units_per_class(share) == w / 1000
    top1 = [0.8, 0.78, 0.6]
    probe = pd.DataFrame([("x", "linear_probe", 0, 15, 0.88, 150)],
                         columns=["experiment", "model", "width", "head_pct", "top1", "head_params"])  # fmt: skip
    spec = HeadClaims(kept_25=0.95, kept_10=0.8, budgets="vgg19")
    claims = head_claims(pd.concat([table(top1), probe]), seeds(top1), spec, classes=4)
    quarter, tenth = claims.iloc[0], claims.iloc[1]
    # 1.135 x 4 = 4.54 units: width 4; 0.465 x 4 = 1.86: width 1.
    assert "VGG19's 25% budget" in quarter["claim"] and "width 4" in quarter["claim"]
    assert "width 1" in tenth["claim"]
    assert quarter["control"].startswith("a linear probe") and quarter[
        "control_value"
    ] == pytest.approx(0.88 / 0.9)
    assert quarter["verdict"] == "not discriminating"  # the probe keeps >= 0.95 with fewer params
    assert tenth["control"] == "" and tenth["verdict"] == "failed"  # nothing fits in 80 params
    with pytest.raises(ValueError, match="class count"):
        head_claims(table(top1), seeds(top1), spec)


def blobs(root, classes: int, dim: int, sizes: tuple[int, int], seed: int) -> None:
    """Feature caches ``root/train`` and ``root/val`` of Gaussian blobs, one per class."""
    import numpy as np

    from tridrop.families.head.feature_cache import write_index, write_shard

    rng = np.random.default_rng(seed)
    means = rng.normal(size=(classes, dim)) * 2
    for split, n in zip(("train", "val"), sizes, strict=True):
        y = rng.integers(0, classes, size=n)
        write_shard(root / split, 0, means[y] + rng.normal(size=(n, dim)), y)
        meta = {"classes": [str(c) for c in range(classes)], "backbone_params": 0}
        write_index(root / split, [n], dim, meta)


def test_finetuned_cuts_have_the_cut_s_parameters_train_and_leave_the_reference_alone(tmp_path):
    """The reference cut (ranked, SVD) then trained: rows at each width with the parameters of
    the cut, better than the training-free cut where the cut loses accuracy, and the
    reference file unchanged (an SVD factor not smaller than its layer is that layer)."""

    from tridrop.families.head import jobs
    from tridrop.families.head.baselines import head_baselines
    from tridrop.families.head.specs import HeadFinetune, HeadModel, HeadTrain
    from tridrop.files import read_csv
    from tridrop.specs import TrainSpec

    blobs(tmp_path, classes=6, dim=10, sizes=(600, 300), seed=0)
    ref = tmp_path / "ref.pt"
    train = TrainSpec(epochs=5, batch_size=32, lr=1e-2, seed=0, device="cpu")
    jobs.train(
        HeadTrain(HeadModel(hidden=16, mode="none"), train), features=tmp_path / "train", model=ref
    )
    before = ref.read_bytes()
    out, params = tmp_path / "ft.csv", tmp_path / "ft_params.csv"
    spec = HeadFinetune(
        "x", (1, 2, 8), TrainSpec(epochs=3, batch_size=32, lr=1e-2, seed=1, device="cpu")
    )
    jobs.finetune(spec, reference=ref, train=tmp_path / "train", val=tmp_path / "val", out=out, params=params)  # fmt: skip
    assert ref.read_bytes() == before
    rows = read_csv(out, ["experiment", "model", "seed", "width", "metric", "value"])
    top1 = rows[rows["metric"] == "top1"].set_index(["model", "width"])["value"]
    counts = read_csv(params, ["model", "width", "head_params"]).set_index(["model", "width"])
    for w in (1, 2, 8):
        assert counts.at[("ranked_ft", w), "head_params"] == head_params(10, w, w, 6)
    assert set(rows["seed"]) == {1}
    free, _ = head_baselines(ref, tmp_path / "train", tmp_path / "val", widths=[1, 2, 8], experiment="x", device="cpu")  # fmt: skip
    cut = free[(free["model"] == "ranked") & (free["metric"] == "top1")].set_index("width")["value"]
    assert cut[1] < 0.6 and top1[("ranked_ft", 1)] > cut[1]  # one unit: training helps
    svd = free[(free["model"] == "svd") & (free["metric"] == "top1")].set_index("width")["value"]
    assert top1[("svd_ft", 8)] > svd[8]


def test_the_config_notes_widths_the_triangle_mask_never_trains():
    from conftest import ROOT
    from tridrop.config import read, resolve

    config = read(ROOT / "config" / "config.yaml")
    notes = resolve({**config, "preset": "demo"}).notes()
    assert any(
        "digits_head.variants.td:" in n and "[1, 2]" in n and "multiples of 4" in n for n in notes
    )
    assert resolve({**config, "preset": "fashion_hard"}).notes() == []  # even widths only


def test_the_grid_cuts_each_layer_as_narrow_does_and_finds_the_pareto_front():
    """Entry (i, j) of the (w1, w2) grid is the top-1 of the head narrowed to widths
    (w_i, w_j); a pair is on the front when nothing with at most its parameters beats it."""
    from tridrop.families.head.evaluation import grid_top1
    from tridrop.families.head.grid import grid_rows, mean_grid, tied_on_front

    model, x, y = head(), torch.randn(40, 11), torch.randint(0, 7, (40,))
    ws = [1, 3, 8, 24]
    got = grid_top1(model, [(x[:25], y[:25]), (x[25:], y[25:])], ws)
    for i, w1 in enumerate(ws):
        for j, w2 in enumerate(ws):
            expect = float((narrow(model, [w1, w2])(x).argmax(1) == y).float().mean())
            assert got[i, j].item() == pytest.approx(expect)
    rows = grid_rows(got, ws, "x", "td", 0, (11, 24, 7))
    assert rows.loc[(rows["w1"] == 3) & (rows["w2"] == 8), "head_params"].item() == head_params(
        11, 3, 8, 7
    )
    grid = mean_grid(pd.concat([rows, rows.assign(seed=1)]))
    assert (grid["seeds"] == 2).all()
    for _, r in grid.iterrows():
        p, t = grid["head_params"], grid["top1"]
        beaten = (
            (p <= r["head_params"]) & (t >= r["top1"]) & ((p < r["head_params"]) | (t > r["top1"]))
        ).any()
        assert r["on_front"] == (not beaten)
    on, n, gain = tied_on_front(grid)
    assert n == 4 and 0 <= on <= 4 and gain >= 0
    # A made-up grid where the tied pair (2, 2) is beaten by (1, 2) with fewer parameters.
    toy = pd.DataFrame({"experiment": "x", "model": "td", "seed": 0, "w1": [1, 1, 2, 2], "w2": [1, 2, 1, 2],
                        "head_params": [10, 12, 14, 16], "head_pct": 0.0, "top1": [0.5, 0.9, 0.6, 0.8]})  # fmt: skip
    toy = mean_grid(toy)
    assert toy.set_index(["w1", "w2"])["on_front"].to_dict() == {
        (1, 1): True, (1, 2): True, (2, 1): False, (2, 2): False}  # fmt: skip
    assert tied_on_front(toy) == (1, 2, pytest.approx(0.1))


def test_mcnemar_counts_the_images_only_one_model_gets_right():
    import numpy as np
    from scipy.stats import binomtest

    from tridrop.families.head.paired import mcnemar

    a = np.array([True] * 10 + [False] * 2 + [True] * 5 + [False] * 3)
    b = np.array([False] * 10 + [True] * 2 + [True] * 5 + [False] * 3)
    assert mcnemar(a, b) == (10, 2, pytest.approx(binomtest(10, 12, 0.5).pvalue))
    assert mcnemar(a, a) == (0, 0, 1.0)
    assert mcnemar(b, a)[2] == mcnemar(a, b)[2]  # two-sided


def test_paired_tests_score_td_and_each_control_on_the_same_images(tmp_path):
    """TD (per seed) against the reference's training-free cuts at every width, the heads
    trained at a fixed width at theirs, no TD at full width only, a Matryoshka head (mode none
    too) at every width; each top-1 equals the sweeps' and the baselines' for the same head
    and width."""

    from tridrop.families.head import jobs
    from tridrop.families.head.baselines import head_baselines
    from tridrop.families.head.specs import HeadModel, HeadPaired, HeadTrain
    from tridrop.specs import Objective, TrainSpec

    blobs(tmp_path, classes=5, dim=8, sizes=(300, 120), seed=1)
    runs = {}
    for variant, mode, hidden in (
        ("notd", "none", 8),
        ("td", "triangle", 8),
        ("fixed2", "none", 2),
        ("fixed4", "none", 4),
        ("matryoshka", "none", 8),
    ):
        for seed in (0, 1):
            path = tmp_path / variant / f"seed{seed}" / "model.pt"
            train = TrainSpec(epochs=2, batch_size=16, lr=1e-2, seed=seed, device="cpu")
            loss = Objective("matryoshka" if variant == "matryoshka" else "plain")
            jobs.train(HeadTrain(HeadModel(hidden=hidden, mode=mode), train, loss), features=tmp_path / "train", model=path)  # fmt: skip
            runs.setdefault(variant, []).append(path)
    out = tmp_path / "paired.csv"
    spec = HeadPaired("x", "td", (1, 2, 4, 8), rank_samples=100, device="cpu")
    others = runs["notd"] + runs["fixed2"] + runs["fixed4"] + runs["matryoshka"]
    jobs.paired(spec, models=runs["td"], others=others, reference=runs["notd"][0],
                train=tmp_path / "train", val=tmp_path / "val", out=out)  # fmt: skip
    rows = pd.read_csv(out)
    assert (rows["images"] == 120).all() and set(rows["seed"]) == {0, 1}
    at = rows.groupby("control")["width"].apply(lambda w: sorted(set(w))).to_dict()
    assert at["ranked"] == [1, 2, 4, 8] and at["fixed"] == [2, 4] and at["notd"] == [8]
    assert at["matryoshka"] == [1, 2, 4, 8]
    assert set(at["svd"]) <= {1, 2, 4, 8}
    free, _ = head_baselines(runs["notd"][0], tmp_path / "train", tmp_path / "val", widths=[1, 2, 4, 8],
                             experiment="x", rank_samples=100, device="cpu")  # fmt: skip
    ranked = free[(free["model"] == "ranked") & (free["metric"] == "top1")].set_index("width")[
        "value"
    ]
    got = rows[rows["control"] == "ranked"].groupby("width")["control_top1"].first()
    assert got.to_dict() == pytest.approx(ranked.to_dict(), abs=1e-6)
    one = rows.iloc[0]
    assert one["only_model"] - one["only_control"] == pytest.approx(
        (one["top1"] - one["control_top1"]) * one["images"],
        abs=1e-3,  # 6 digits in the file
    )


def test_select_picks_a_width_on_half_the_test_images_and_checks_it_on_the_other(tmp_path):
    """Per head and tolerance: the chosen width keeps its promise on the images it was chosen
    on (top-1 at least (1 - tolerance) x full width's), a looser tolerance never picks a
    wider head, and the other half's top-1 is reported beside it."""
    from tridrop.families.head import jobs
    from tridrop.families.head.specs import HeadModel, HeadTrain
    from tridrop.files import read_csv
    from tridrop.specs import Select, TrainSpec

    blobs(tmp_path, classes=6, dim=10, sizes=(1200, 2000), seed=0)
    train = TrainSpec(epochs=10, batch_size=32, lr=1e-2, seed=0, device="cpu")
    model = tmp_path / "seed0" / "model.pt"
    jobs.train(HeadTrain(HeadModel(hidden=32), train), features=tmp_path / "train", model=model)
    out = tmp_path / "select.csv"
    spec = Select("x", "td", (1, 2, 4, 8, 16, 24), (0.01, 0.1), device="cpu")
    jobs.select(spec, models=[model], features=tmp_path / "val", out=out)
    rows = read_csv(out, ["tolerance", "width", "value_select", "full_select", "value_check"])
    assert rows["tolerance"].tolist() == [0.01, 0.1] and (rows["width"] <= 32).all()
    assert (rows["value_select"] >= (1 - rows["tolerance"]) * rows["full_select"]).all()
    assert rows["width"].iloc[1] <= rows["width"].iloc[0] < 32
    assert rows["value_check"].between(0.5, 1).all()
    assert read_csv(out)[["seed", "examples"]].values.tolist()[0] == [0, 1000]
