"""The figures draw what their captions say: panels, the models in each, the scales, and the
reconstruction grid made of several runs' files (drawn in memory, nothing looked at by eye)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from conftest import ROOT  # noqa: E402
from tridrop.cli import main  # noqa: E402
from tridrop.dropout import triangle_widths  # noqa: E402
from tridrop.families.autoencoder.figures import dependence, gap, importance, sweep  # noqa: E402
from tridrop.families.autoencoder.figures.reconstructions import Run, rows_of  # noqa: E402
from tridrop.families.autoencoder.figures.reconstructions import plot as grid  # noqa: E402
from tridrop.families.head import figure as head_figure  # noqa: E402
from tridrop.families.head.specs import HeadFigure  # noqa: E402
from tridrop.figures import LABELS  # noqa: E402

WIDTHS = range(1, 9)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def labels(ax) -> set[str]:
    return set(ax.get_legend_handles_labels()[1])


def sweeps(models: dict[str, dict[int, float]], seeds=(0, 1)) -> pd.DataFrame:
    rows = [
        ("e", m, s, w, "mse", v * (1 + 0.01 * s))
        for m, curve in models.items()
        for s in (seeds if m != "pca" else (0,))
        for w, v in curve.items()
    ]
    return pd.DataFrame(rows, columns=["experiment", "model", "seed", "width", "metric", "value"])


def curve(scale: float, widths=WIDTHS) -> dict[int, float]:
    return {w: scale / w for w in widths}


def test_sweep_sets_the_papers_comparison_beside_the_relatives():
    df = sweeps(
        {
            "td": curve(1.0),
            "notd": curve(3.0),
            "notd_greedy": curve(2.0),  # a training-free control, drawn where it exists
            "fixed": curve(0.8, (1, 2, 4)),
            "pca": curve(1.5),
            "random": {w: 1.2 * 0.8 / w for w in WIDTHS},
            "pcaae": curve(0.9, (1, 2)),
        }
    )
    fig = sweep.plot(df)
    left, right = fig.axes
    assert labels(left) == {LABELS[m] for m in ("td", "notd", "notd_greedy", "fixed", "pca")}
    assert labels(right) >= {LABELS[m] for m in ("random", "pcaae", "td")}
    for ax in (left, right):
        assert ax.get_xscale() == "log" and ax.xaxis.get_transform().base == 2
    assert left.get_yscale() == "log"
    # Right: the ratio to the AE trained at each width (1.2 for random at widths 1, 2, 4; no TD
    # stands for it at full width, 8), TD drawn over every relative.
    lines = {c.get_label(): c.lines[0] for c in right.containers}  # errorbar: (line, bars)
    random = lines[LABELS["random"]]
    assert list(random.get_xdata()) == [1, 2, 4, 8]
    assert np.allclose(random.get_ydata(), [1.2, 1.2, 1.2, 1.2 * 0.8 / 3])
    td = lines[LABELS["td"]]
    assert list(td.get_xdata()) == [1, 2, 4, 8]
    assert np.isclose(td.get_ydata()[-1], 1 / 3)
    assert td.get_zorder() > max(line.get_zorder() for line in lines.values() if line is not td)
    assert "AE trained at width w" in right.get_ylabel()


def test_sweep_without_relatives_is_one_panel_and_falls_back_to_pca():
    fig = sweep.plot(sweeps({"td": curve(1.0), "notd": curve(3.0), "pca": curve(1.5)}))
    assert len(fig.axes) == 1
    fig = sweep.plot(sweeps({"td": curve(1.0), "random": curve(1.1), "pca": curve(1.5)}))
    assert "PCA" in fig.axes[1].get_ylabel()


def features(models=("td", "notd", "notd_sorted", "random"), width=6, seeds=(0, 1)):
    imp, dep = [], []
    for m in models:
        for s in seeds:
            for i in range(width):
                value = 0.1 / 4**i if m != "notd" else 0.01
                imp.append(("e", m, s, i, "importance", value if i < width - 1 else -1e-9))
                for j in range(width):
                    if i != j:
                        dep.append(("e", m, s, i, j, "dependence", 0.3 if i > j else 0.01))
    cols = ["experiment", "model", "seed", "unit"]
    return (
        pd.DataFrame(imp, columns=[*cols, "metric", "value"]),
        pd.DataFrame(dep, columns=[*cols, "removed", "metric", "value"]),
    )


def test_importance_puts_td_beside_its_controls_on_a_log_scale():
    imp, _ = features()
    fig = importance.plot(imp)
    left, right = fig.axes
    controls = {LABELS[m] for m in ("td", "notd", "notd_sorted")}
    assert labels(left) == controls | {"mean at or below zero"}  # the last unit's -1e-9
    assert labels(right) == {LABELS[m] for m in ("random", "td")}
    assert left.get_yscale() == "log" and left.get_ylim()[0] > 0
    # A mean at or below zero sits at the floor, marked, rather than vanishing off the scale.
    floor = min(y for line in left.get_lines() for y in line.get_ydata())
    assert floor > 0
    assert len(importance.plot(imp[imp["model"].isin(["td", "notd"])]).axes) == 1


def test_dependence_draws_td_and_controls_then_every_model():
    _, dep = features()
    heat = [ax for ax in dependence.plot(dep).axes if ax.images]
    assert [ax.get_title().split("\n")[0] for ax in heat] == [
        LABELS[m] for m in ("td", "notd", "notd_sorted")
    ]
    assert all(ax.get_title().endswith("below the diagonal: 97%") for ax in heat)
    every = [ax for ax in dependence.plot(dep, every=True).axes if ax.images]
    assert len(every) == 4


def npz(path: Path, originals: np.ndarray, widths: list[int]) -> Path:
    recons = np.stack([originals * w / 8 for w in widths])
    np.savez(path, originals=originals, recons=recons, widths=np.array(widths))
    return path


def test_reconstructions_are_one_grid_of_several_runs(tmp_path):
    x = np.random.default_rng(0).random((4, 1, 8, 8)).astype(np.float32)
    files = {
        "notd": npz(tmp_path / "notd.npz", x, [1, 2, 4, 8]),
        "td": npz(tmp_path / "td.npz", x, [1, 2, 4, 8]),
        "fixed2": npz(tmp_path / "f2.npz", x, [2]),
        "fixed4": npz(tmp_path / "f4.npz", x, [4]),
        "fixed3": npz(tmp_path / "f3.npz", x, [3]),  # no column: no other model shows w = 3
        "pca": npz(tmp_path / "pca.npz", x, [1, 2, 4, 8]),
    }
    # No TD's file also holds its best training-free cut: a row of its own.
    with np.load(files["notd"]) as f:
        arrays = dict(f)
    np.savez(files["notd"], **arrays, cut="notd_pca", cut_recons=arrays["recons"] / 2)
    spec = json.dumps({"title": "t", "models": list(files)})
    png = tmp_path / "grid.png"
    args = ["ae", "plot_reconstructions", "--spec", spec, "--recon", *map(str, files.values())]
    assert main([*args, "--png", str(png)]) == 0
    assert png.stat().st_size > 1000 and not list(tmp_path.glob("*_*.png"))
    # Rows: TD, the fixed-width AEs together at their own widths, PCA, no TD, its cut.
    runs = [Run("notd", (1, 2), x[None].repeat(2, 0)), Run("fixed", (2,), x[None])]
    runs += [Run("td", (1, 2), x[None].repeat(2, 0)), Run("fixed", (4,), x[None])]
    runs += [Run("random", (1,), x[None]), Run("notd_greedy", (1,), x[None])]
    runs += [Run("pca", (1,), x[None])]
    assert rows_of(runs) == ["td", "fixed", "pca", "notd", "notd_greedy", "random"]
    runs = [*runs[:4], Run("fixed", (3,), x[None])]
    fig = grid(x, runs, "t")
    images = [ax for ax in fig.axes if ax.images]
    assert (
        len(images) == 1 + 2 + 1 + 2
    )  # the input, TD's, fixed2 (fixed3, fixed4: no column), no TD's
    # Other test images in one run: refused, naming the file.
    other = npz(tmp_path / "other.npz", x[::-1].copy(), [1])
    spec = json.dumps({"models": ["td", "notd"]})
    bad = ["ae", "plot_reconstructions", "--spec", spec, "--recon", str(files["td"]), str(other)]
    assert main([*bad, "--png", str(tmp_path / "bad.png")]) == 1


def head_table(models=("td", "fixed", "ranked", "reference", "linear_probe")) -> pd.DataFrame:
    rows = []
    for m in models:
        widths = {"reference": [16], "fixed": [4], "linear_probe": [0]}.get(m, [1, 2, 4, 8, 16])
        for w in widths:
            top1 = 0.5 if m == "linear_probe" else 0.9 * w / 16 + 0.1
            rows.append(("e", m, w, 10 * w + 5, top1, 0.01, min(1, 2 * top1), 0.0, 2))
    cols = ["experiment", "model", "width", "head_params", "top1", "top1_std", "top5"]
    return pd.DataFrame(rows, columns=[*cols, "top5_std", "seeds"])


def test_head_figure_is_test_top1_with_chance_probe_and_untrained_widths():
    assert triangle_widths(16, 4) == {4, 8, 12, 16}
    assert triangle_widths(16, 64) == set(range(1, 17))
    spec = HeadFigure("e", classes=10, hidden=16, batch_size=4, triangle=("td",))
    fig = head_figure.plot(head_table(), spec)
    (ax,) = fig.axes  # no top-5 panel for 10 classes
    assert ax.get_ylabel() == "test top-1 accuracy"
    flat = {
        round(line.get_ydata()[0], 3) for line in ax.get_lines() if len(set(line.get_ydata())) == 1
    }
    assert {0.1, 0.5} <= flat  # chance and the linear probe
    assert any(t.get_text() == "chance (1/10)" for t in ax.texts)
    assert any(LABELS["linear_probe"] in label for label in labels(ax))
    # Open markers at TD's widths 1 and 2, which a batch of 4 on 16 units never trains.
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 1 and list(hollow[0].get_xdata()) == [15, 25]
    assert "multiples of 4): 1, 2" in fig.legends[0].get_title().get_text()
    wide = head_figure.plot(head_table(), HeadFigure("e", classes=1000))
    assert [a.get_ylabel() for a in wide.axes] == ["test top-1 accuracy", "test top-5 accuracy"]


def test_head_relatives_get_a_panel_of_their_own_beside_td():
    """Controls left, relatives right; TD, no TD and the per-width heads in both; each legend
    entry once."""
    fig = head_figure.plot(head_table(("td", "notd", "fixed", "svd", "matryoshka", "random")))
    left, right = fig.axes
    assert LABELS["svd"] in labels(left) and LABELS["matryoshka"] not in labels(left)
    assert {LABELS["matryoshka"], LABELS["random"], LABELS["td"], LABELS["fixed"]} <= set(
        labels(right)
    ) and LABELS["svd"] not in labels(right)
    entries = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(entries) == len(set(entries)) == 6


def test_gap_labels_sit_by_their_points_and_overlap_nothing():
    table = pd.read_csv(ROOT / "results/demo/tables/digits_gap.csv")
    df = pd.read_csv(ROOT / "results/demo/sweeps.csv")
    fig = gap.plot(table, df[df["experiment"] == "digits"])
    fig.canvas.draw()
    left = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    names = {r.model: r for r in table.itertuples() if r.fixed_geomean <= left.get_ylim()[1]}
    boxes = {}
    for t in left.texts:
        if t.get_text() in names:
            boxes[t.get_text()] = Text.get_window_extent(t, renderer)  # no leader line
    assert set(boxes) == set(names)  # every point on the plot is named
    for name, box in boxes.items():
        r = names[name]
        x, y = left.transData.transform((r.full, r.fixed_geomean))
        near = max(box.x0 - x, x - box.x1, box.y0 - y, y - box.y1)
        assert near < 40, (name, near)  # beside its own point (pixels at 100 dpi; was 77)
        for other, b in boxes.items():
            assert other == name or not box.overlaps(b), (name, other)
