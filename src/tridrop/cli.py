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

    prepare(a.dataset, a.out, a.test_fraction, a.split_seed)


def _train_ae(a: argparse.Namespace) -> None:
    from tridrop.experiment import train_autoencoder

    cfg = TrainConfig(a.epochs, a.batch_size, a.lr, a.weight_decay, a.seed, a.device,
                      a.deterministic)  # fmt: skip
    train_autoencoder(a.data, a.out, hidden=a.hidden, latent=a.latent, mode=a.mode, p=a.p,
                      cfg=cfg, checkpoint=a.checkpoint)  # fmt: skip


def _sweep_ae(a: argparse.Namespace) -> None:
    from tridrop.experiment import sweep_autoencoder

    df = sweep_autoencoder(a.model, a.data, experiment=a.experiment, name=a.name, seed=a.seed,
                           device=a.device, recon_out=a.recon_out, recon_images=a.recon_images,
                           recon_widths=a.recon_widths)  # fmt: skip
    _write_csv(df, a.out)


def _aggregate(a: argparse.Namespace) -> None:
    from tridrop import tables

    df = tables.combine(a.sweeps)
    summary = tables.summary(df)
    _write_csv(df, a.out)
    _write_csv(summary, a.summary)
    for experiment, part in summary.groupby("experiment"):
        _write_csv(tables.wide(part, a.metric), a.wide.format(experiment=experiment))
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
    elif a.figure == "reconstructions":
        from tridrop.figures.reconstructions import plot

        with np.load(a.input, allow_pickle=False) as f:
            fig = plot(f["originals"], f["recons"], f["widths"].tolist(), a.title)
    else:
        from tridrop.figures.mask import plot

        fig = plot(a.batch, a.width)
    figures.save(fig, a.out)


def _readme(a: argparse.Namespace) -> None:
    import yaml

    from tridrop.readme import section, splice

    config = yaml.safe_load(Path(a.config).read_text())
    preset = a.preset or config["preset"]
    new = section(Path(a.results or f"results/{preset}"), Path(a.captions), config, preset,
                  a.command_name)  # fmt: skip
    readme = Path(a.readme)
    old = readme.read_text()
    text = splice(old, new)
    if a.check:
        if text != old:
            raise ValueError(f"{readme}'s results section is out of date; run `make readme`")
        return
    readme.write_text(text)


def _environment(a: argparse.Namespace) -> None:
    from tridrop.train import environment, resolve_device

    record = {"environment": environment(resolve_device(a.device)),
              "config": json.loads(a.config_json)}  # fmt: skip
    _write_text(json.dumps(record, indent=2) + "\n", a.out)


def _write_text(text: str, path: str | Path) -> None:
    from tridrop.files import atomic

    with atomic(path) as tmp:
        tmp.write_text(text)


def _write_csv(df, path: str | Path) -> None:
    from tridrop.files import atomic

    with atomic(path) as tmp:
        df.to_csv(tmp, index=False, float_format="%.6g")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tridrop", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("prepare-data", help="build a dataset split and store it as .npz")
    p.add_argument("--dataset", required=True, help="dataset name (digits)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of images held out")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/test split")
    p.add_argument("--out", required=True, help="output .npz")
    p.set_defaults(func=_prepare_data)

    p = sub.add_parser("train-ae", help="train an MLP autoencoder with a TD latent layer")
    p.add_argument("--data", required=True, help="split written by prepare-data")
    p.add_argument("--hidden", type=int, required=True, help="hidden units of encoder/decoder")
    p.add_argument("--latent", type=int, required=True, help="latent width W")
    p.add_argument("--mode", default="triangle", help="triangle|random|nested|dropout|none")
    p.add_argument("--p", type=float, default=0.1, help="nested: geometric p; dropout: rate")
    _train_options(p)
    p.add_argument("--checkpoint", help="resumable checkpoint (outside declared outputs)")
    p.add_argument("--out", required=True, help="output weights (.pt); config goes to .json")
    p.set_defaults(func=_train_ae)

    p = sub.add_parser("sweep-ae", help="test MSE of a trained autoencoder at every width")
    p.add_argument("--model", required=True, help="weights written by train-ae")
    p.add_argument("--data", required=True, help="split written by prepare-data")
    p.add_argument("--experiment", required=True, help="experiment name for the rows")
    p.add_argument("--name", required=True, help="model name for the rows (td, notd, ...)")
    p.add_argument("--seed", type=int, required=True, help="seed for the rows")
    p.add_argument("--device", default="auto", help="auto|cpu|cuda")
    p.add_argument("--recon-out", help="also save reconstructions to this .npz")
    p.add_argument("--recon-images", type=int, default=8, help="images in the reconstructions")
    p.add_argument("--recon-widths", type=int, nargs="+", help="widths (default: all)")
    p.add_argument("--out", required=True, help="output CSV")
    p.set_defaults(func=_sweep_ae)

    p = sub.add_parser("aggregate", help="combine sweeps into results, tables and metrics")
    p.add_argument("sweeps", nargs="+", help="per-run sweep CSVs")
    p.add_argument("--out", required=True, help="combined long-form CSV")
    p.add_argument("--summary", required=True, help="mean/std per model and width (CSV)")
    p.add_argument(
        "--wide", required=True, help="means of --metric per model; path with {experiment}"
    )
    p.add_argument("--metric", default="mse", help="metric of the wide table")
    p.add_argument("--metrics", required=True, help="headline metrics (JSON, for DVC)")
    p.add_argument("--headline-widths", type=int, nargs="+", default=[1, 2, 4, 8])
    p.set_defaults(func=_aggregate)

    p = sub.add_parser("plot", help="draw one figure (PNG and PDF)")
    p.add_argument("figure", choices=["sweep", "reconstructions", "mask"], help="which figure")
    p.add_argument("--input", help="sweep: combined CSV; reconstructions: .npz")
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

    p = sub.add_parser("readme", help="rewrite the README's results section from results/")
    p.add_argument("--config", default="config/config.yaml", help="the pipeline's config")
    p.add_argument("--preset", help="preset whose results to show (default: the config's)")
    p.add_argument("--results", help="results folder (default: results/<preset>)")
    p.add_argument("--captions", default="workflow/report", help="report caption files")
    p.add_argument("--readme", default="README.md", help="README to update in place")
    p.add_argument("--command-name", default="make run", help="command named as the producer")
    p.add_argument("--check", action="store_true", help="only check it is up to date")
    p.set_defaults(func=_readme)
    return parser


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
