# Shared helpers: the chosen preset, its checks, the package sources and the outputs of a run.
import shutil
from pathlib import Path

PRESET = config["preset"]

# Training rules ask for a GPU only where one will be used, so CPU runs stay parallel.
USE_GPU = config["device"] == "cuda" or (
    config["device"] == "auto" and shutil.which("nvidia-smi") is not None
)
# Software environment of every rule for `--sdm conda` (path relative to the rule files).
CONDA_ENV = "../../envs/gpu.yaml" if USE_GPU else "../../envs/cpu.yaml"
# Code changes retrain: every training and sweep job depends on the package sources.
SRC = sorted(str(p) for p in Path("src/tridrop").rglob("*.py"))


wildcard_constraints:
    preset=r"[A-Za-z0-9_]+",
    experiment=r"[a-z][a-z0-9_]*",
    variant=r"[a-z][a-z0-9_]*",
    seed=r"\d+",


def preset(w):
    return config["presets"][w.preset]


def ae(w):
    return preset(w)["autoencoders"][w.experiment]


def data_spec(w):
    """The split settings of the (first) autoencoder experiment that uses this dataset."""
    for spec in preset(w)["autoencoders"].values():
        if spec["dataset"] == w.dataset:
            return spec
    raise ValueError(f"no experiment of preset {w.preset!r} uses dataset {w.dataset!r}")


def ae_runs(p, experiment, name):
    """Files `name` of every variant and seed of one autoencoder experiment."""
    spec = config["presets"][p]["autoencoders"][experiment]
    return expand(
        f"results/{p}/runs/{experiment}/{{variant}}/seed{{seed}}/{name}",
        variant=spec["variants"],
        seed=spec["seeds"],
    )


def all_sweeps(p):
    return [
        f
        for experiment in config["presets"][p]["autoencoders"]
        for f in ae_runs(p, experiment, "sweep.csv")
    ]


def all_outputs(p):
    """What `rule all` and the DVC stage produce for preset `p`."""
    aes = config["presets"][p]["autoencoders"]
    out = [
        f"results/{p}/sweeps.csv",
        f"results/{p}/tables/summary.csv",
        f"results/{p}/metrics.json",
        f"results/{p}/figures/triangular_mask.png",
        f"results/{p}/environment.json",
    ]
    for experiment, spec in aes.items():
        out.append(f"results/{p}/tables/{experiment}_mse_by_width.csv")
        out.append(f"results/{p}/figures/{experiment}_mse_vs_width.png")
        out += expand(
            f"results/{p}/figures/{experiment}_reconstructions_{{variant}}.png",
            variant=spec["variants"],
        )
    return out
