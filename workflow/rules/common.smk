# Shared helpers: the chosen preset, its checks, the package sources and the outputs of a run.
import shutil
from pathlib import Path

PRESET = config["preset"]

# Training rules ask for a GPU only where one will be used, so CPU runs stay parallel.
USE_GPU = config["device"] == "cuda" or (
    config["device"] == "auto" and shutil.which("nvidia-smi") is not None
)
# CUDA runs repeatable bit for bit (a flag of every training command).
DETERMINISTIC = "--deterministic" if config["deterministic"] else ""
# Software environment of every rule for `--sdm conda` (path relative to the rule files).
CONDA_ENV = "../../envs/gpu.yaml" if USE_GPU else "../../envs/cpu.yaml"
# Code changes retrain: every training and sweep job depends on the package sources.
SRC = sorted(str(p) for p in Path("src/tridrop").rglob("*.py"))


wildcard_constraints:
    preset=r"[A-Za-z0-9_]+",
    experiment=r"[a-z][a-z0-9_]*",
    variant=r"[a-z][a-z0-9_]*",
    seed=r"\d+",
    split=r"train|val",
    width=r"\d+",
    dataset=r"[a-z][a-z0-9_]*",


# Autoencoder and classifier-head experiments share some output patterns (claims/<name>.csv).
AE_NAMES = "|".join(config["presets"][PRESET]["autoencoders"])
HEAD_NAMES = "|".join(config["presets"][PRESET].get("heads", {}))


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
    for spec in [
        *preset(w)["autoencoders"].values(),
        *preset(w).get("heads", {}).values(),
    ]:
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
    ] + head_sweeps(p)


def wide_tables(p, folder=None):
    """Mean-by-width tables per experiment and metric (autoencoders: mse; heads: top1, top5)."""
    spec = config["presets"][p]
    pairs = [(e, "mse") for e in spec["autoencoders"]]
    pairs += [(e, m) for e in spec.get("heads", {}) for m in ("top1", "top5")]
    return [f"{folder or f'results/{p}'}/tables/{e}_{m}_by_width.csv" for e, m in pairs]


def all_outputs(p):
    """What `rule all` and the DVC stage produce for preset `p`."""
    aes = config["presets"][p]["autoencoders"]
    out = [
        f"results/{p}/sweeps.csv",
        f"results/{p}/tables/summary.csv",
        f"results/{p}/metrics.json",
        f"results/{p}/figures/triangular_mask.png",
        f"results/{p}/environment.json",
        f"results/{p}/claims.csv",
        f"results/{p}/claims.json",
    ]
    for experiment, spec in aes.items():
        out.append(f"results/{p}/figures/{experiment}_mse_vs_width.png")
        out.append(f"results/{p}/figures/{experiment}_importance.png")
        out.append(f"results/{p}/figures/{experiment}_dependence.png")
        out += expand(
            f"results/{p}/figures/{experiment}_reconstructions_{{variant}}.png",
            variant=spec["variants"],
        )
    out += head_outputs(p) + wide_tables(p)
    return out


# Classifier-head experiments (VGG19 on ImageNet; the digits stand-in): `heads:` in a preset.
for _name, _h in config["presets"][PRESET].get("heads", {}).items():
    if _h["dataset"] == "imagenet":
        # ImageNet cannot be downloaded: stop before any job runs if the copy is not there.
        from tridrop.imagenet import ImageNetMissing, check as _check_imagenet

        _in = _h["imagenet"]
        try:
            _check_imagenet(_in["root"], _in["layout"], _in.get("max_classes"))
        except ImageNetMissing as _err:
            raise ValueError(
                f"config: presets.{PRESET}.heads.{_name}.imagenet.root: {_err}"
            ) from None


def heads(p):
    return config["presets"][p].get("heads", {})


def head(w):
    return heads(w.preset)[w.experiment]


def head_variant(w):
    """Training settings of a head run: a configured variant, `notd` or `fixed<width>`."""
    spec = head(w)
    if w.variant == "notd" and w.variant not in spec["variants"]:
        return {"mode": "none", "init": "scratch", "hidden": spec["hidden"]}
    if w.variant.startswith("fixed") and w.variant[5:].isdigit():
        return {"mode": "none", "init": "scratch", "hidden": int(w.variant[5:])}
    return {**spec["variants"][w.variant], "hidden": spec["hidden"]}


def head_reference(p, experiment):
    """The unconstrained head: VGG19's own (pretrained) or one trained without TD (seeded)."""
    spec = heads(p)[experiment]
    if spec["reference"] == "pretrained":
        return f"results/{p}/heads/{experiment}/pretrained/model.pt"
    return f"results/{p}/heads/{experiment}/notd/seed{spec['reference_seed']}/model.pt"


def head_runs(p, experiment, name):
    """Files `name` of every TD variant and fixed-width head, every seed."""
    spec = heads(p)[experiment]
    variants = [*spec["variants"], *(f"fixed{w}" for w in spec["fixed_widths"])]
    return expand(
        f"results/{p}/heads/{experiment}/{{variant}}/seed{{seed}}/{name}",
        variant=variants,
        seed=spec["seeds"],
    )


def fixed_runs(p, experiment, name):
    """Files `name` of the autoencoders trained separately at each fixed width, every seed."""
    spec = config["presets"][p]["autoencoders"][experiment]
    return expand(
        f"results/{p}/runs/{experiment}/fixed/w{{width}}/seed{{seed}}/{name}",
        width=spec.get("fixed_widths", []),
        seed=spec["seeds"],
    )


def head_files(p, experiment, name):
    return head_runs(p, experiment, name) + [
        f"results/{p}/heads/{experiment}/baselines/{name}"
    ]


def head_sweeps(p):
    return [f for e in heads(p) for f in head_files(p, e, "sweep.csv")]


def head_outputs(p):
    return [
        f
        for e in heads(p)
        for f in (
            f"results/{p}/tables/{e}_accuracy_vs_params.csv",
            f"results/{p}/figures/{e}_accuracy_vs_params.png",
            f"results/{p}/claims/{e}.csv",
        )
    ]


def opt(flag, value):
    """A command-line option, or nothing when the setting is absent (null)."""
    return "" if value is None else f"{flag} {value}"


def imagenet_spec(w):
    return head(w)["imagenet"]


def features_input(w):
    if head(w)["dataset"] == "digits":
        return {"data": f"results/{w.preset}/data/digits.npz", "code": SRC}
    return {"manifest": f"results/{w.preset}/imagenet/{w.experiment}.json", "code": SRC}


def features_options(w, input):
    """Options of `tridrop cache-features` for the experiment's data source."""
    if head(w)["dataset"] == "digits":
        return f"--data {input.data}"
    s = imagenet_spec(w)
    per_class = s["train_per_class"] if w.split == "train" else s["val_per_class"]
    return " ".join(
        x
        for x in (
            f"--root {s['root']} --layout {s['layout']} --weights {s['weights']}",
            opt("--max-classes", s.get("max_classes")),
            opt("--per-class", per_class),
            f"--views {s['train_views']} --resize {s['resize']} --crop {s['crop']}",
            f"--shard-size {s['shard_size']} --batch-size {s['batch_size']}",
            f"--workers {s['workers']} --seed {s['seed']}",
        )
        if x
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
        for experiment in [*config["presets"][p]["autoencoders"], *heads(p)]
    ]
