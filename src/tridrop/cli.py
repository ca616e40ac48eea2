"""Command line: one subcommand per pipeline job (``tridrop <command> --help``)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from tridrop.train import TrainConfig


def _prepare_data(a: argparse.Namespace) -> None:
    from tridrop.data import prepare

    prepare(a.dataset, a.out, a.test_fraction, a.split_seed, path=a.path,
            max_train=a.max_train, max_test=a.max_test)  # fmt: skip


def _download(a: argparse.Namespace) -> None:
    from tridrop.data import download

    folder = download(a.dataset, a.root)
    logging.getLogger("tridrop").info("%s: raw files in %s", a.dataset, folder)


def _train_ae(a: argparse.Namespace) -> None:
    from tridrop.experiment import train_autoencoder

    cfg = TrainConfig(a.epochs, a.batch_size, a.lr, a.weight_decay, a.seed, a.device,
                      a.deterministic)  # fmt: skip
    train_autoencoder(a.data, a.out, hidden=a.hidden, latent=a.latent, mode=a.mode, p=a.p,
                      cfg=cfg, checkpoint=a.checkpoint, arch=a.arch,
                      channels=a.channels)  # fmt: skip


def _sweep_ae(a: argparse.Namespace) -> None:
    from tridrop.experiment import sweep_autoencoder

    df = sweep_autoencoder(a.model, a.data, experiment=a.experiment, name=a.name, seed=a.seed,
                           device=a.device, recon_out=a.recon_out, recon_images=a.recon_images,
                           recon_widths=a.recon_widths,
                           full_width_only=a.full_width_only)  # fmt: skip
    _write_csv(df, a.out)


def _pca(a: argparse.Namespace) -> None:
    from tridrop.baselines import sweep_pca

    _write_csv(sweep_pca(a.data, experiment=a.experiment, widths=a.widths), a.out)


def _features_ae(a: argparse.Namespace) -> None:
    from tridrop.experiment import features_autoencoder

    imp, dep = features_autoencoder(a.model, a.data, experiment=a.experiment, name=a.name,
                                    seed=a.seed, images=a.images, device=a.device)  # fmt: skip
    _write_csv(imp, a.importance_out)
    _write_csv(dep, a.dependence_out)


def _aggregate_features(a: argparse.Namespace) -> None:
    import pandas as pd

    for inputs, out in ((a.importance, a.importance_out), (a.dependence, a.dependence_out)):
        _write_csv(pd.concat([pd.read_csv(f) for f in inputs], ignore_index=True), out)


def _claims_ae(a: argparse.Namespace) -> None:
    import pandas as pd

    from tridrop.claims import autoencoder_claims

    df = autoencoder_claims(pd.read_csv(a.sweeps), pd.read_csv(a.importance),
                            pd.read_csv(a.dependence), a.experiment)  # fmt: skip
    _write_csv(df, a.out)


def _claims(a: argparse.Namespace) -> None:
    from tridrop import claims

    df = claims.combine(a.inputs)
    _write_csv(df, a.out)
    if a.metrics:
        _write_text(json.dumps(claims.tally(df), indent=2) + "\n", a.metrics)
    logging.getLogger("tridrop").info("claims:\n%s", claims.markdown(df))


def _aggregate(a: argparse.Namespace) -> None:
    from tridrop import tables

    df = tables.combine(a.sweeps)
    summary = tables.summary(df)
    _write_csv(df, a.out)
    _write_csv(summary, a.summary)
    for (experiment, metric), part in summary.groupby(["experiment", "metric"]):
        _write_csv(tables.wide(part, metric), a.wide.format(experiment=experiment, metric=metric))
    _write_text(json.dumps(tables.headline(summary, a.headline_widths), indent=2), a.metrics)


def _plot(a: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    from tridrop import figures

    if a.figure == "sweep":
        from tridrop.figures.sweep import plot

        df = pd.read_csv(a.input)
        if a.experiment is not None:
            df = df[df["experiment"] == a.experiment]
        if df.empty:
            raise ValueError(f"{a.input}: no rows for experiment {a.experiment!r}")
        fig = plot(df, a.metric)
    elif a.figure in ("importance", "dependence"):
        import importlib

        fig = importlib.import_module(f"tridrop.figures.{a.figure}").plot(pd.read_csv(a.input))
    elif a.figure == "reconstructions":
        from tridrop.figures.reconstructions import plot

        with np.load(a.input, allow_pickle=False) as f:
            fig = plot(f["originals"], f["recons"], f["widths"].tolist(), a.title)
    elif a.figure == "accuracy":
        from tridrop.figures.accuracy import plot

        fig = plot(pd.read_csv(a.input))
    else:
        from tridrop.figures.mask import plot

        fig = plot(a.batch, a.width)
    figures.save(fig, a.out)


def _readme(a: argparse.Namespace) -> None:
    import yaml

    from tridrop.readme import rewrite

    config = yaml.safe_load(Path(a.config).read_text())
    preset = a.preset or config["preset"]
    results = Path(a.results or f"results/{preset}")
    for page in (Path(a.readme), Path(a.results_page)):  # the headline, the full results
        old = page.read_text()
        text = rewrite(old, page, results, Path(a.captions), config, preset, a.command_name,
                       Path(a.results_page))  # fmt: skip
        if a.check and text != old:
            raise ValueError(f"{page}'s results are out of date; run `make readme`")
        if not a.check:
            page.write_text(text)


def _environment(a: argparse.Namespace) -> None:
    from tridrop.train import environment, resolve_device

    record = {"environment": environment(resolve_device(a.device)),
              "config": json.loads(a.config_json)}  # fmt: skip
    _write_text(json.dumps(record, indent=2) + "\n", a.out)


def _write_text(text: str, path: str | Path) -> None:
    from tridrop.files import atomic

    with atomic(path) as tmp:
        tmp.write_text(text)


def _check_imagenet(a: argparse.Namespace) -> None:
    from tridrop.imagenet import check

    manifest = check(a.root, a.layout, a.max_classes)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(manifest, indent=2) + "\n")


def _cache_features(a: argparse.Namespace) -> None:
    from tridrop.heads import cache_digits, cache_imagenet

    if a.source == "digits":
        cache_digits(a.data, a.split, a.out)
    else:
        cache_imagenet(a.root, a.split, a.out, layout=a.layout, weights=a.weights,
                       max_classes=a.max_classes, per_class=a.per_class, views=a.views,
                       resize=a.resize, crop=a.crop, shard_size=a.shard_size,
                       batch_size=a.batch_size, workers=a.workers, seed=a.seed, device=a.device,
                       work=a.work)  # fmt: skip


def _pretrained_head(a: argparse.Namespace) -> None:
    from tridrop.heads import pretrained_reference

    pretrained_reference(a.weights, a.classes, a.hidden, a.out)


def _train_head(a: argparse.Namespace) -> None:
    import os

    import torch
    import torch.distributed as dist

    from tridrop.heads import train_head

    # Under torchrun (WORLD_SIZE > 1) each process joins the group: NCCL on GPUs, gloo on CPUs.
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if ddp:
        cuda = a.device != "cpu" and torch.cuda.is_available()
        dist.init_process_group("nccl" if cuda else "gloo")
    try:
        cfg = TrainConfig(a.epochs, a.batch_size, a.lr, a.weight_decay, a.seed, a.device,
                          a.deterministic)  # fmt: skip
        train_head(a.features, a.out, hidden=a.hidden, mode=a.mode, p=a.p, cfg=cfg, init=a.init,
                   checkpoint=a.checkpoint)  # fmt: skip
    finally:
        if ddp:
            dist.destroy_process_group()


def _sweep_head(a: argparse.Namespace) -> None:
    from tridrop.heads import sweep_head

    rows, params = sweep_head(a.model, a.features, widths=a.widths, experiment=a.experiment,
                              name=a.name, seed=a.seed, full_hidden=a.full_hidden,
                              device=a.device)  # fmt: skip
    _write_csv(rows, a.out)
    _write_csv(params, a.params_out)


def _head_baselines(a: argparse.Namespace) -> None:
    from tridrop.heads import head_baselines

    rows, params = head_baselines(a.reference, a.train_features, a.val_features, widths=a.widths,
                                  experiment=a.experiment, rank_samples=a.rank_samples,
                                  device=a.device)  # fmt: skip
    _write_csv(rows, a.out)
    _write_csv(params, a.params_out)


def _head_table(a: argparse.Namespace) -> None:
    import pandas as pd

    from tridrop.heads import accuracy_table

    params = pd.concat([pd.read_csv(f) for f in a.params], ignore_index=True)
    _write_csv(accuracy_table(pd.read_csv(a.sweeps), params, a.experiment), a.out)


def _head_claims(a: argparse.Namespace) -> None:
    import pandas as pd

    from tridrop.heads import head_claims

    claims = head_claims(pd.read_csv(a.table), model=a.model, kept_25=a.kept_25,
                         kept_10=a.kept_10, max_gap=a.max_gap)  # fmt: skip
    _write_csv(claims, a.out)


def _write_csv(df, path: str | Path) -> None:
    from tridrop.files import atomic

    with atomic(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tridrop", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare-data", help="build a dataset split and store it as .npz")
    p.add_argument("--dataset", required=True, help="digits|mnist|fashion_mnist|celeba")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of images held out")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split")
    p.add_argument("--path", help="folder of the raw files (IDX files; CelebA's layout)")
    p.add_argument("--max-train", type=int, help="keep only the first N training images")
    p.add_argument("--max-test", type=int, help="keep only the first N test images")
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(func=_prepare_data)

    p = sub.add_parser("download", help="download a dataset's raw files with torchvision")
    p.add_argument("--dataset", required=True, help="mnist|fashion_mnist|celeba")
    p.add_argument("--root", required=True, help="download folder")
    p.set_defaults(func=_download)

    p = sub.add_parser("train-ae", help="train an MLP autoencoder with a TD latent layer")
    p.add_argument("--data", required=True, help="split written by prepare-data")
    p.add_argument("--hidden", type=int, required=True, help="hidden units of encoder/decoder")
    p.add_argument("--latent", type=int, required=True, help="latent width W")
    p.add_argument("--mode", default="triangle", help="triangle|random|nested|dropout|none")
    p.add_argument("--p", type=float, default=0.1, help="nested: geometric p; dropout: rate")
    p.add_argument("--arch", default="mlp", choices=["mlp", "conv"], help="autoencoder type")
    p.add_argument("--channels", type=int, nargs="+", help="conv: channels of encoder blocks")
    _train_options(p)
    p.add_argument("--checkpoint", help="resumable checkpoint (outside declared outputs)")
    p.add_argument("--out", required=True, help="output weights (.pt); config goes to .json")
    p.set_defaults(func=_train_ae)

    p = sub.add_parser("sweep-ae", help="test MSE of a trained autoencoder at every width")
    _trained_autoencoder_options(p)
    p.add_argument("--recon-out", help="also save reconstructions to this .npz")
    p.add_argument("--recon-images", type=int, default=8, help="images in the reconstructions")
    p.add_argument("--recon-widths", type=int, nargs="+", help="widths (default: all)")
    p.add_argument("--full-width-only", action="store_true",
                   help="one row at the model's own width (fixed-width baselines)")  # fmt: skip
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=_sweep_ae)

    p = sub.add_parser("pca", help="PCA baseline: test MSE from the first k components")
    p.add_argument("--data", required=True, help="split written by prepare-data")
    p.add_argument("--experiment", required=True, help="experiment name for the rows")
    p.add_argument("--widths", type=int, required=True, help="rows for widths 1..WIDTHS")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=_pca)

    p = sub.add_parser("features-ae", help="importance and dependence of the latent units")
    _trained_autoencoder_options(p)
    p.add_argument("--images", type=int, default=500, help="first N test images used")
    p.add_argument("--importance-out", required=True, help="output CSV (one row per unit)")
    p.add_argument("--dependence-out", required=True, help="output CSV (one row per pair)")
    p.set_defaults(func=_features_ae)

    p = sub.add_parser("aggregate-features", help="combine per-run importance and dependence")
    p.add_argument("--importance", nargs="+", required=True, help="per-run importance CSVs")
    p.add_argument("--dependence", nargs="+", required=True, help="per-run dependence CSVs")
    p.add_argument("--importance-out", required=True, help="combined importance CSV")
    p.add_argument("--dependence-out", required=True, help="combined dependence CSV")
    p.set_defaults(func=_aggregate_features)

    p = sub.add_parser("claims-ae", help="the paper's autoencoder claims, measured and checked")
    p.add_argument("--sweeps", required=True, help="combined sweeps CSV")
    p.add_argument("--importance", required=True, help="combined importance CSV")
    p.add_argument("--dependence", required=True, help="combined dependence CSV")
    p.add_argument("--experiment", required=True, help="experiment whose claims to check")
    p.add_argument("--out", required=True, help="output CSV (claims of this experiment)")
    p.set_defaults(func=_claims_ae)

    p = sub.add_parser("claims", help="concatenate per-experiment claim files")
    p.add_argument("inputs", nargs="+", help="claims/<experiment>.csv files")
    p.add_argument("--out", required=True, help="the preset's claims.csv")
    p.add_argument("--metrics", help="also write claims held per experiment (JSON, for DVC)")
    p.set_defaults(func=_claims)

    p = sub.add_parser("aggregate", help="combine sweeps into results, tables and metrics")
    p.add_argument("sweeps", nargs="+", help="per-run sweep CSVs")
    p.add_argument("--out", required=True, help="combined long-form CSV")
    p.add_argument("--summary", required=True, help="mean/std per model and width (CSV)")
    p.add_argument(
        "--wide",
        required=True,
        help="means per model against width; path with {experiment} and {metric}",
    )
    p.add_argument("--metrics", required=True, help="headline metrics (JSON, for DVC)")
    p.add_argument("--headline-widths", type=int, nargs="+", default=[1, 2, 4, 8])
    p.set_defaults(func=_aggregate)

    p = sub.add_parser("plot", help="draw one figure (PNG and PDF)")
    p.add_argument(
        "figure",
        choices=["sweep", "reconstructions", "mask", "importance", "dependence", "accuracy"],
        help="which figure",
    )
    p.add_argument(
        "--input", help="sweep, importance, dependence: CSV; reconstructions: .npz; accuracy: table"
    )
    p.add_argument("--metric", default="mse", help="sweep: metric to plot")
    p.add_argument("--experiment", help="sweep: only this experiment's rows")
    p.add_argument("--title", default="", help="reconstructions: title")
    p.add_argument("--batch", type=int, default=16, help="mask: batch size")
    p.add_argument("--width", type=int, default=16, help="mask: layer width")
    p.add_argument("--out", required=True, help="output PNG (a PDF is written beside it)")
    p.set_defaults(func=_plot)

    p = sub.add_parser("environment", help="record library versions, device and config")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.add_argument("--config-json", default="{}", help="the resolved config, as JSON")
    p.add_argument("--out", required=True, help="output JSON")
    p.set_defaults(func=_environment)

    p = sub.add_parser("readme", help="rewrite the results in the README and docs/ from results/")
    p.add_argument("--config", default="config/config.yaml", help="the pipeline's config")
    p.add_argument("--preset", help="preset whose results to show (default: the config's)")
    p.add_argument("--results", help="results folder (default: results/<preset>)")
    p.add_argument("--captions", default="workflow/report", help="report caption files")
    p.add_argument("--readme", default="README.md", help="README to update in place")
    p.add_argument("--results-page", default="docs/results.md", help="full results page")
    p.add_argument("--command-name", default="make run", help="command named as the producer")
    p.add_argument("--check", action="store_true", help="only check it is up to date")
    p.set_defaults(func=_readme)
    _head_parsers(sub)
    return parser


def _head_parsers(sub) -> None:
    """Subcommands of the classifier-head experiment (VGG19 on ImageNet, digits stand-in)."""
    p = sub.add_parser("check-imagenet", help="check a local ImageNet copy; write its manifest")
    _imagenet_options(p)
    p.add_argument("--out", required=True, help="manifest (JSON): classes used")
    p.set_defaults(func=_check_imagenet)

    p = sub.add_parser("cache-features", help="write a head's input features as an fp16 cache")
    p.add_argument("--source", choices=["digits", "imagenet"], required=True, help="input data")
    p.add_argument("--split", choices=["train", "val"], required=True, help="which split")
    p.add_argument("--data", help="digits: split written by prepare-data")
    _imagenet_options(p)
    p.add_argument(
        "--weights",
        default="imagenet1k_v1",
        help="VGG19 weights: imagenet1k_v1, a state-dict file, random (tests)",
    )
    p.add_argument("--per-class", type=int, help="imagenet: at most this many images per class")
    p.add_argument(
        "--views",
        type=int,
        default=0,
        help="imagenet train: augmented views per image (0: the centre crop)",
    )
    p.add_argument("--resize", type=int, default=256, help="imagenet: resize of the short side")
    p.add_argument("--crop", type=int, default=224, help="imagenet: crop size")
    p.add_argument("--shard-size", type=int, default=10000, help="rows per shard")
    p.add_argument("--batch-size", type=int, default=64, help="images per backbone batch")
    p.add_argument("--workers", type=int, default=0, help="image decoding processes")
    p.add_argument("--seed", type=int, default=0, help="seed of the augmented views")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.add_argument("--work", help="folder for shards until complete (resumable)")
    p.add_argument("--out", required=True, help="output cache folder")
    p.set_defaults(func=_cache_features)

    p = sub.add_parser("pretrained-head", help="write VGG19's own classifier as a head file")
    p.add_argument("--weights", default="imagenet1k_v1", help="as for cache-features")
    p.add_argument("--classes", type=int, default=1000, help="keep the first classes")
    p.add_argument("--hidden", type=int, default=4096, help="keep the first hidden units")
    p.add_argument("--out", required=True, help="output weights (.pt); metadata goes to .json")
    p.set_defaults(func=_pretrained_head)

    p = sub.add_parser("train-head", help="train a TD classifier head on a feature cache "
                       "(data-parallel under torchrun)")  # fmt: skip
    p.add_argument("--features", required=True, help="training feature cache")
    p.add_argument("--hidden", type=int, required=True, help="width of both hidden layers")
    p.add_argument("--mode", default="triangle", help="triangle|random|nested|dropout|none")
    p.add_argument("--p", type=float, default=0.1, help="nested: geometric p; dropout: rate")
    p.add_argument("--init", help="start from this head file (default: random init)")
    _train_options(p)
    p.add_argument("--checkpoint", help="resumable checkpoint (outside declared outputs)")
    p.add_argument("--out", required=True, help="output weights (.pt); config goes to .json")
    p.set_defaults(func=_train_head)

    p = sub.add_parser("sweep-head", help="top-1/top-5 of a head at every width (prefix sums)")
    p.add_argument("--model", required=True, help="head file")
    p.add_argument("--features", required=True, help="validation feature cache")
    p.add_argument("--widths", type=int, nargs="+", required=True, help="widths to evaluate")
    p.add_argument(
        "--full-hidden",
        type=int,
        required=True,
        help="full width; a narrower head is evaluated at its own width only",
    )
    _row_options(p)
    p.set_defaults(func=_sweep_head)

    p = sub.add_parser("head-baselines", help="reference head: full, ranked cut, truncated SVD")
    p.add_argument("--reference", required=True, help="reference head file")
    p.add_argument("--train-features", required=True, help="training cache (for the ranking)")
    p.add_argument("--val-features", required=True, help="validation feature cache")
    p.add_argument("--widths", type=int, nargs="+", required=True, help="widths to evaluate")
    p.add_argument("--rank-samples", type=int, default=10000, help="rows scoring the units")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.add_argument("--experiment", required=True, help="experiment name for the rows")
    p.add_argument("--out", required=True, help="output CSV (tidy rows)")
    p.add_argument("--params-out", required=True, help="output CSV (parameter counts)")
    p.set_defaults(func=_head_baselines)

    p = sub.add_parser("head-table", help="accuracy vs parameters table of a head experiment")
    p.add_argument("--sweeps", required=True, help="aggregated sweeps.csv")
    p.add_argument("--params", nargs="+", required=True, help="per-run parameter CSVs")
    p.add_argument("--experiment", required=True, help="experiment name")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=_head_table)

    p = sub.add_parser("head-claims", help="claims rows of a head experiment")
    p.add_argument("--table", required=True, help="accuracy vs parameters table")
    p.add_argument("--model", default="td", help="the TD model the claims are about")
    p.add_argument("--kept-25", type=float, default=0.95, help="min top-1 ratio at 25%%")
    p.add_argument("--kept-10", type=float, default=0.9, help="min top-1 ratio at 10%%")
    p.add_argument("--max-gap", type=float, default=0.02, help="max full-width top-1 gap")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=_head_claims)


def _imagenet_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", help="imagenet: folder of the local copy")
    p.add_argument("--layout", default="folder", help="imagenet: folder|archives")
    p.add_argument("--max-classes", type=int, help="imagenet: use the first classes only")


def _row_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment", required=True, help="experiment name for the rows")
    p.add_argument("--name", required=True, help="model name for the rows")
    p.add_argument("--seed", type=int, required=True, help="seed for the rows")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.add_argument("--out", required=True, help="output CSV (tidy rows)")
    p.add_argument("--params-out", required=True, help="output CSV (parameter counts)")


def _trained_autoencoder_options(p: argparse.ArgumentParser) -> None:
    """The trained autoencoder, its data, and the labels of the rows written about it."""
    p.add_argument("--model", required=True, help="weights written by train-ae")
    p.add_argument("--data", required=True, help="split written by prepare-data")
    p.add_argument("--experiment", required=True, help="experiment name for the rows")
    p.add_argument("--name", required=True, help="model name for the rows (td, notd, ...)")
    p.add_argument("--seed", type=int, required=True, help="seed for the rows")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")


def _train_options(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="mini-batch size")
    p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="Adam weight decay")
    p.add_argument("--seed", type=int, default=d.seed, help="seed of init, batches and masks")
    p.add_argument("--device", default=d.device, help="auto|cpu|cuda")
    p.add_argument(
        "--deterministic", action="store_true", help="CUDA: deterministic kernels (slower)"
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as err:
        logging.getLogger("tridrop").error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
