# Shared helpers: the chosen preset, its checks, the package sources and the outputs of a run.
import shutil
from pathlib import Path

PRESET = config["preset"]
if PRESET not in config["presets"]:
    raise ValueError(
        f"config: preset {PRESET!r} is not defined; choose one of {sorted(config['presets'])}"
    )
for _name, _ae in config["presets"][PRESET]["autoencoders"].items():
    for _w in (
        _ae["recon_widths"] + _ae["headline_widths"] + _ae.get("fixed_widths", [])
    ):
        if _w > _ae["latent"]:
            raise ValueError(
                f"config: presets.{PRESET}.autoencoders.{_name}: width {_w} is larger than "
                f"the latent layer (latent: {_ae['latent']})"
            )

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
    width=r"\d+",
    dataset=r"[a-z][a-z0-9_]*",


def preset(w):
    return config["presets"][w.preset]


def ae(w):
    return preset(w)["autoencoders"][w.experiment]


def arch_params(w):
    """Architecture settings of an autoencoder experiment (MLP by default)."""
    spec = ae(w)
    return {
        "arch": spec.get("arch", "mlp"),
        "channels": " ".join(map(str, spec.get("channels", [32, 64, 128, 256]))),
    }


def data_spec(w):
    """The split settings of the (first) autoencoder experiment that uses this dataset."""
    for spec in preset(w)["autoencoders"].values():
        if spec["dataset"] == w.dataset:
            return spec
    raise ValueError(f"no experiment of preset {w.preset!r} uses dataset {w.dataset!r}")


def raw_data(w):
    """The raw files a dataset is built from: none (digits), the user's folder (source: local)
    or the download rule's folder."""
    spec = data_spec(w)
    if spec["dataset"] == "digits":
        return []
    if spec.get("source", "download") == "local":
        if "path" not in spec:
            raise ValueError(
                f"config: dataset {w.dataset!r} has source: local but no path"
            )
        return [spec["path"]]
    return [f"results/{w.preset}/data/raw/{w.dataset}"]


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
        for f in ae_runs(p, experiment, "sweep.csv") + baseline_sweeps(p, experiment)
    ]


def all_outputs(p):
    """What `rule all` and the DVC stage produce for preset `p`."""
    aes = config["presets"][p]["autoencoders"]
    out = [
        f"results/{p}/sweeps.csv",
        f"results/{p}/tables/summary.csv",
        f"results/{p}/metrics.json",
        f"results/{p}/figures/triangular_mask.png",
        f"results/{p}/claims.csv",
    ]
    for experiment, spec in aes.items():
        out.append(f"results/{p}/tables/{experiment}_mse_by_width.csv")
        out.append(f"results/{p}/figures/{experiment}_mse_vs_width.png")
        out.append(f"results/{p}/figures/{experiment}_importance.png")
        out.append(f"results/{p}/figures/{experiment}_dependence.png")
        out += expand(
            f"results/{p}/figures/{experiment}_reconstructions_{{variant}}.png",
            variant=spec["variants"],
        )
    return out


def fixed_runs(p, experiment, name):
    """Files `name` of the autoencoders trained separately at each fixed width, every seed."""
    spec = config["presets"][p]["autoencoders"][experiment]
    return expand(
        f"results/{p}/runs/{experiment}/fixed/w{{width}}/seed{{seed}}/{name}",
        width=spec.get("fixed_widths", []),
        seed=spec["seeds"],
    )


def baseline_sweeps(p, experiment):
    """Sweeps of the baselines that are not variants: fixed-width autoencoders and PCA."""
    spec = config["presets"][p]["autoencoders"][experiment]
    out = fixed_runs(p, experiment, "sweep.csv")
    if spec.get("pca", False):
        out.append(f"results/{p}/runs/{experiment}/pca/sweep.csv")
    return out


def claim_files(p):
    """Per-experiment claim tables that `rule claims` concatenates into claims.csv."""
    return [
        f"results/{p}/claims/{experiment}.csv"
        for experiment in config["presets"][p]["autoencoders"]
    ]
