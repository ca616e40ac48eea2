"""Autoencoder jobs: train a variant, sweep it over latent widths, baselines, analyse, claims.

Variants (TD, no TD, random widths, nested dropout, other objectives, and ``fixed<width>``:
trained without TD at one width) all train through :func:`train`; a model narrower than the
experiment's latent layer is a fixed-width baseline and is swept at its own width only. PCAAE
trains and sweeps in :func:`pcaae`; :func:`gap` sets every variant against the references.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from functools import partial
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch

from tridrop import evaluation
from tridrop.data import load_split
from tridrop.families.autoencoder import analysis, objectives
from tridrop.families.autoencoder.baselines import pca_fit, pca_mse, pca_reconstructions
from tridrop.families.autoencoder.claims import autoencoder_claims
from tridrop.families.autoencoder.evaluation import (
    Cuts,
    cut_reconstructions,
    latent_mse,
    one_per_class,
    reconstructions,
)
from tridrop.families.autoencoder.models import (
    arch,
    build_autoencoder,
    load_autoencoder,
    split_at_latent,
)
from tridrop.families.autoencoder.specs import (
    AutoencoderAnalysis,
    AutoencoderBaselines,
    AutoencoderClaims,
    AutoencoderSweep,
    AutoencoderTrain,
    Budget,
    BudgetFigure,
    FeaturesFigure,
    GapFigure,
    LearningRates,
    PCAAETrain,
    ReconstructionsFigure,
    SweepFigure,
)
from tridrop.figures import save
from tridrop.files import atomic, read_csv, read_json, read_npz, write_csv
from tridrop.job import In, Out, Work
from tridrop.registry import AUTOENCODER
from tridrop.specs import Gap, Nothing, Select, dump, rows_name
from tridrop.train import check_memory, fit, resolve_device, save_run

log = logging.getLogger(__name__)


def train(spec: AutoencoderTrain, *, data: In, model: Out, checkpoint: Work | None = None):
    """Train an autoencoder on a stored split; write its weights and metadata (``.json``)."""
    m, cfg = spec.model, spec.train
    device = resolve_device(cfg.device)
    split = load_split(data).to(device)
    shape = list(split.x_train.shape[1:])
    check_memory(lambda: build_autoencoder(m, shape), device)
    torch.manual_seed(cfg.seed)
    net = build_autoencoder(m, shape).to(device)
    log.info("training %s on %s (%d images) on %s", m, data, len(split.x_train), device)
    loss = objectives.loss_for(spec.objective)
    history = fit(
        net, split.x_train, split.y_train, cfg, loss, checkpoint=checkpoint, tag=dump(spec)
    )
    passes = objectives.passes(spec.objective, m.latent)
    meta = {
        "arch": arch(m, shape),
        "train": cfg,
        "objective": asdict(spec.objective),
        "data": str(data),
        # Full (encoder + decoder) forward passes per training image, the cost of the run.
        "forward_passes": cfg.epochs * (passes["encoder"] + passes["decoder"]) / 2,
    }
    save_run(model, net, meta, device, history, checkpoint)


def pcaae(spec: PCAAETrain, *, data: In, model: Out, out: Out, checkpoint: Work | None = None):
    """Train a PCAAE stage by stage; write it and its test MSE at widths ``1..widths``.

    Its rows are model ``pcaae``; ``checkpoint`` is a folder of one checkpoint per stage.
    """
    from tridrop.families.autoencoder.pcaae import PCAAE, pcaae_mse, train_pcaae

    m, cfg = spec.model, spec.train
    device = resolve_device(cfg.device)
    split = load_split(data).to(device)
    shape = tuple(split.x_train.shape[1:])
    torch.manual_seed(cfg.seed)
    net = PCAAE(shape, m.hidden, spec.widths).to(device)
    ckpts = None
    if checkpoint is not None:
        ckpts = [Path(checkpoint) / f"stage{k}.pt" for k in range(1, spec.widths + 1)]
    log.info(
        "PCAAE with %d stages on %s (%d images) on %s",
        spec.widths,
        data,
        len(split.x_train),
        device,
    )
    history = train_pcaae(net, split.x_train, spec, ckpts)
    recorded = {"kind": "pcaae", "shape": list(shape), "model": asdict(m), "widths": spec.widths}
    # Stage k: one encoder and one decoder pass per step, and the k-1 frozen encoders once.
    passes = sum(cfg.epochs + (k - 1) / 2 for k in range(1, spec.widths + 1))
    meta = {
        "arch": recorded,
        "train": cfg,
        "data": str(data),
        "forward_passes": passes,
        "pcaae": {"cov_weight": spec.cov_weight, "betas": list(spec.betas)},
    }
    save_run(model, net, meta, device, history)
    values = pcaae_mse(net, split.x_test)
    write_csv(evaluation.tidy(values, spec.experiment, "pcaae", cfg.seed, "mse"), out)


def sweep(spec: AutoencoderSweep, *, model: In, data: In, out: Out, recon: Out):
    """Test MSE at every latent width as tidy rows, and reconstructions at a few widths.

    With ``spec.controls``, also the training-free cuts of the model (rows
    ``<model>_meanfill``, ``<model>_pca``, ``<model>_greedy``), fitted on the training split.
    """
    dev = resolve_device(spec.device)
    split = load_split(data).to(dev)
    net = load_autoencoder(model, dev, split.x_test.shape[1:])
    own = split_at_latent(net)[1].width
    if own > spec.width:  # narrower models are fixed-width baselines; wider ones a mix-up
        raise ValueError(
            f"{model}: a latent layer of {own} units, wider than the sweep's spec.width = "
            f"{spec.width}"
        )
    if spec.controls and own < spec.width:
        raise ValueError(f"{model}: controls cut a model of every width, not one of {own} units")
    r = spec.rows
    df = evaluation.tidy(latent_mse(net, split.x_test), r.experiment, r.model, r.seed, "mse")
    widths = [w for w in spec.recon_widths or range(1, own + 1) if w <= own]
    if own < spec.width:  # a fixed-width baseline: a point at its own width, not a curve
        df, widths = df.iloc[[-1]].reset_index(drop=True), [own]
    x = one_per_class(split.x_test, split.y_test, spec.recon_images)
    arrays = {"originals": x, "recons": reconstructions(net, x, widths), "widths": widths}
    if spec.controls:
        cuts = Cuts.fit(net, split.x_train, spec.greedy_images)
        found = cuts.mse(net, split.x_test)
        log.info("%s/%s seed %d: greedy unit order %s", r.experiment, r.model, r.seed, cuts.order)
        rows = [
            evaluation.tidy(v, r.experiment, f"{r.model}_{name}", r.seed, "mse")
            for name, v in found.items()
        ]
        df = pd.concat([df, *rows], ignore_index=True)
        # The figure's row of the best cut: lowest geometric-mean test MSE at its widths.
        best = min(found, key=lambda k: found[k][[w - 1 for w in widths]].log().mean())
        arrays["cut"] = f"{r.model}_{best}"
        arrays["cut_recons"] = cut_reconstructions(net, x, widths, cuts, best)
    write_csv(df, out)
    save_reconstructions(recon, **arrays)


def baselines(spec: AutoencoderBaselines, *, data: In, out: Out, recon: Out):
    """PCA, the optimal linear autoencoder, at widths ``1..width`` (model ``pca``, seed 0), and
    its reconstructions of the sweeps' test images at ``spec.recon_widths``."""
    split = load_split(data)
    dim = split.x_train[0].numel()
    if spec.width > dim:  # PCA has at most one component per pixel
        raise ValueError(
            f"spec.width = {spec.width} is larger than the data's dimension ({dim} values per "
            f"image in {data}): PCA has at most {dim} components"
        )
    pca = pca_fit(split.x_train.numpy(), spec.width)
    values = pca_mse(split.x_train.numpy(), split.x_test.numpy(), spec.width, pca=pca)
    log.info(
        "PCA on %s: MSE %.4g at width 1, %.4g at width %d", data, values[0], values[-1], spec.width
    )
    write_csv(evaluation.tidy(torch.from_numpy(values), spec.experiment, "pca", 0, "mse"), out)
    x = one_per_class(split.x_test, split.y_test, spec.recon_images).numpy()
    widths = list(spec.recon_widths or range(1, spec.width + 1))
    rec = pca_reconstructions(pca, x, widths).astype(x.dtype)
    save_reconstructions(recon, originals=x, recons=rec, widths=widths)


def save_reconstructions(path: Out, **arrays) -> None:
    """An ``.npz`` of reconstructions (``originals``, ``recons``, ``widths``; a training-free
    cut's ``cut`` and ``cut_recons``), tensors as arrays, written atomically."""
    plain = {k: v.cpu().numpy() if torch.is_tensor(v) else np.asarray(v) for k, v in arrays.items()}
    with atomic(path) as tmp:
        np.savez(tmp, **plain)


def analyse(
    spec: AutoencoderAnalysis, *, model: In, data: In, importance: Out, dependence: Out, order: Out
):
    """Importance, dependence and order at the top of the latent units on the first test
    images (with ``spec.controls``, the order also of the units sorted by importance, model
    ``<model>_sorted``)."""
    dev = resolve_device(spec.device)
    split = load_split(data).to(dev)
    net = load_autoencoder(model, dev, split.x_test.shape[1:])
    x = split.x_test[: spec.feature_images]
    imp, dep = analysis.importance_and_dependence(net, x)
    r = spec.rows
    log.info(
        "%s/%s seed %d: importance by unit on %d test images: %s",
        r.experiment,
        r.model,
        r.seed,
        len(x),
        [round(v, 5) for v in imp.tolist()],
    )
    imp_rows, dep_rows = analysis.tidy_features(imp, dep, r.experiment, r.model, r.seed)
    # Gating costs 4x the dependence per image: on the first gating_images only.
    share, split_ = analysis.gating_dependence(net, x[: spec.gating_images])
    log.info("%s/%s seed %d: gating share %.3f", r.experiment, r.model, r.seed, share)
    gating = analysis.tidy_pairs(split_, r.experiment, r.model, r.seed, "gating")
    dep_rows = pd.concat([dep_rows, gating], ignore_index=True)
    top = analysis.order_at_the_top(net, x, imp, reordered=spec.controls)
    order_rows = []
    for suffix, (ratio, adjacent) in top.items():
        name = f"{r.model}_{suffix}" if suffix else r.model
        log.info(
            "%s/%s seed %d: prefix optimality %s, adjacent pairs ordered %.3g",
            r.experiment,
            name,
            r.seed,
            [round(v, 3) for v in ratio.tolist()],
            adjacent,
        )
        order_rows.append(analysis.tidy_order(ratio, adjacent, r.experiment, name, r.seed))
    write_csv(imp_rows, importance)
    write_csv(dep_rows, dependence)
    write_csv(pd.concat(order_rows, ignore_index=True), order)


def table(
    spec: Nothing,
    *,
    importance: list[In],
    dependence: list[In],
    order: list[In],
    importance_out: Out,
    dependence_out: Out,
    order_out: Out,
):
    """The experiment's importance, dependence and order tables: every run's rows,
    concatenated; the dependence also of the unconstrained model (role reference) with its
    units re-sorted by importance (``<model>_sorted``, the dependence claims' control)."""
    tables = {}
    for name, inputs, columns in (
        ("importance", importance, analysis.IMPORTANCE_COLUMNS),
        ("dependence", dependence, analysis.DEPENDENCE_COLUMNS),
        ("order", order, analysis.ORDER_COLUMNS),
    ):
        tables[name] = pd.concat([read_csv(f, columns) for f in inputs], ignore_index=True)
    imp, dep = tables["importance"], tables["dependence"]
    references = [m for m in imp["model"].unique() if AUTOENCODER.role(m) == "reference"]
    tables["dependence"] = pd.concat(
        [dep, *(analysis.resorted(dep, imp, m) for m in references)], ignore_index=True
    )
    write_csv(tables["importance"], importance_out)
    write_csv(tables["dependence"], dependence_out)
    write_csv(tables["order"], order_out)


def claims(
    spec: AutoencoderClaims, *, sweeps: In, importance: In, dependence: In, order: In, out: Out
):
    """The paper's autoencoder claims, measured on the aggregated results and checked."""
    rows = autoencoder_claims(
        read_csv(sweeps, evaluation.COLUMNS),
        read_csv(importance, analysis.IMPORTANCE_COLUMNS),
        read_csv(dependence, analysis.DEPENDENCE_COLUMNS),
        spec,
        read_csv(order, analysis.ORDER_COLUMNS),
    )
    write_csv(rows, out)


def gap(spec: Gap, *, sweeps: In, meta: list[In], out: Out):
    """The gap report of one experiment: each variant against no TD and the fixed widths."""
    from tridrop.gap import costs, gap_table

    if len(meta) != len(spec.models):
        raise ValueError(f"{len(meta)} metadata files for {len(spec.models)} model names")
    cost = pd.DataFrame([costs(read_json(p), m) for p, m in zip(meta, spec.models, strict=True)])
    df = pd.read_csv(sweeps)
    table = gap_table(df[df["experiment"] == spec.experiment], cost, AUTOENCODER, "mse", spec.notd)
    table.insert(0, "experiment", spec.experiment)
    log.info("gap report of %s:\n%s", spec.experiment, table.to_string())
    write_csv(table, out)


def select(spec: Select, *, models: list[In], data: In, out: Out):
    """The width ``select_width`` picks for each autoencoder at each tolerance (test MSE within
    that share of full width's, with ``spec.confidence``, a bootstrap bound), chosen on the
    even test images and checked on the odd ones."""
    from tridrop.tables import select_table

    dev = resolve_device(spec.device)
    x = load_split(data).to(dev).x_test
    # No label: the target is the image.
    chosen = [(b, None) for b in x[0::2].split(256)]
    check = [(b, None) for b in x[1::2].split(256)]
    load = partial(load_autoencoder, device=dev, shape=x.shape[1:])
    write_csv(select_table(spec, models, load, chosen, check, "mse", "mse"), out)


def budget(spec: Budget, *, sweeps: list[In], meta: list[In], out: Out, curves: Out, claims: Out):
    """A budget series: TD's MSE ratios over its references at each budget, the claims that
    training longer shrinks them, and the learning curves of every run."""
    from tridrop.families.autoencoder import budget as b

    curve = b.read_curves(meta, spec.runs)
    df = _series_sweeps(sweeps, spec.experiments)
    ratio = b.ratios(df, dict(zip(spec.experiments, spec.epochs, strict=True)))
    bad = b.prefix_mismatches(curve)
    if bad:  # a shorter run should be the start of the longer one: say so, keep the results
        log.warning("runs that are not the start of the longest budget's: %s", bad)
    found = b.budget_claims(ratio, spec.series, spec.shrink)
    log.info("%s:\n%s", spec.series, ratio.groupby(["reference", "epochs"])["ratio"].mean())
    write_csv(ratio, out)
    write_csv(curve, curves)
    write_csv(found, claims)


def _series_sweeps(sweeps: list[In], experiments: tuple[str, ...]) -> pd.DataFrame:
    """The rows of a series' experiments from their collected sweep files."""
    df = pd.concat([read_csv(p, evaluation.COLUMNS) for p in sweeps], ignore_index=True)
    return df[df["experiment"].isin(experiments)]


def learning_rates(
    spec: LearningRates, *, sweeps: list[In], meta: list[In], out: Out, choice: Out, claims: Out
):
    """A learning-rate series: each model's validation loss by rate and its chosen rate, TD's
    MSE ratios at each rate, and the claims with every model at its chosen rate."""
    from tridrop.families.autoencoder import budget as b
    from tridrop.families.autoencoder import tuning

    lrs = dict(zip(spec.experiments, spec.lrs, strict=True))
    curve = b.read_curves(meta, spec.runs)
    df = _series_sweeps(sweeps, spec.experiments)
    picked = tuning.choices(curve, lrs)
    log.info("%s: chosen rates %s", spec.series, tuning.chosen(picked))
    found = tuning.tuned_claims(df, picked, lrs, spec.series, spec.full_gap, spec.fixed_ratio)
    write_csv(b.ratios(df, lrs, column="lr"), out)
    write_csv(picked, choice)
    write_csv(found, claims)


def plot_learning_rates(spec: BudgetFigure, *, table: In, choice: In, png: Out):
    """Validation loss by learning rate per model beside TD's price at each rate."""
    matplotlib.use("Agg")  # figures are files; no display is assumed
    from tridrop.families.autoencoder.figures.tuning import plot

    save(plot(pd.read_csv(choice), pd.read_csv(table)), png)


def plot_budget(spec: BudgetFigure, *, table: In, curves: In, png: Out):
    """Learning curves of the longest budget beside TD's price against budget."""
    matplotlib.use("Agg")  # figures are files; no display is assumed
    from tridrop.families.autoencoder.budget import CURVE_COLUMNS, RATIO_COLUMNS
    from tridrop.families.autoencoder.figures.budget import plot

    save(plot(read_csv(curves, CURVE_COLUMNS), read_csv(table, RATIO_COLUMNS)), png)


def plot_sweep(spec: SweepFigure, *, sweeps: In, png: Out):
    """The metric against width of every model and baseline of one experiment."""
    matplotlib.use("Agg")  # figures are files; no display is assumed
    from tridrop.families.autoencoder.figures.sweep import plot

    df = read_csv(sweeps, ("experiment", "model", "seed", "width", "metric", "value"))
    df = df[df["experiment"] == spec.experiment]
    if df.empty:
        raise ValueError(f"{sweeps}: no rows for experiment {spec.experiment!r}")
    save(plot(df, spec.metric), png)


def plot_reconstructions(spec: ReconstructionsFigure, *, recon: list[In], png: Out):
    """The same test images reconstructed by several runs (``spec.models``: each file's model,
    e.g. ``td``, ``fixed8``, ``notd``, ``pca``) from their first w latent units, a row per
    model (and one for a training-free cut a file holds)."""
    matplotlib.use("Agg")  # figures are files; no display is assumed
    from tridrop.families.autoencoder.figures.reconstructions import Run, plot

    models = spec.models or tuple(f"run {i}" for i in range(1, len(recon) + 1))
    if len(models) != len(recon):
        raise ValueError(f"{len(recon)} reconstruction files for {len(models)} model names")
    runs, originals = [], None
    for path, model in zip(recon, models, strict=True):
        f = read_npz(path, ("originals", "recons", "widths"), optional=("cut", "cut_recons"))
        if originals is None:
            originals, first = f["originals"], path
        elif not np.array_equal(f["originals"], originals):
            raise ValueError(f"{path} reconstructs other test images than {first}")
        widths = tuple(f["widths"].tolist())
        runs.append(Run(rows_name(model), widths, f["recons"]))
        if "cut" in f:  # no TD's best training-free cut, a row of its own
            runs.append(Run(str(f["cut"]), widths, f["cut_recons"]))
    save(plot(originals, runs, spec.title), png)


def plot_gap(spec: GapFigure, *, table: In, sweeps: In, png: Out):
    """Full-width against small-width cost of every variant, beside their MSE vs width."""
    import pandas as pd

    matplotlib.use("Agg")  # figures are files; no display is assumed
    from tridrop.families.autoencoder.figures.gap import plot

    df = pd.read_csv(sweeps)
    save(plot(pd.read_csv(table), df[df["experiment"] == spec.experiment]), png)


def plot_features(spec: FeaturesFigure, *, table: In, png: Out):
    """Feature importance by unit index, or the feature dependence matrices (of TD against no
    TD, or of every model: kind ``dependence_variants``)."""
    matplotlib.use("Agg")  # figures are files; no display is assumed
    if spec.kind == "importance":
        from tridrop.families.autoencoder.figures.importance import plot

        fig = plot(read_csv(table, ("experiment", "model", "seed", "unit", "value")))
    else:
        from tridrop.families.autoencoder.figures.dependence import plot

        rows = read_csv(table, analysis.DEPENDENCE_COLUMNS)
        # The table also holds the gating splits (metric gating): this figure is the dependence.
        dep = rows[rows["metric"] == "dependence"].drop(columns="metric")
        fig = plot(dep, every=spec.kind == "dependence_variants")
    save(fig, png)


VERBS = (
    "train",
    "pcaae",
    "sweep",
    "baselines",
    "analyse",
    "table",
    "claims",
    "gap",
    "select",
    "plot_sweep",
    "plot_reconstructions",
    "plot_gap",
    "plot_features",
    "budget",
    "plot_budget",
    "learning_rates",
    "plot_learning_rates",
)
