"""The command line: help and defaults of every job, the jobs end to end, one-line errors."""

import importlib
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import torch

from failures import Failure
from tridrop.cli import FAMILIES, build_parser, main
from tridrop.families.autoencoder.specs import AutoencoderModel, AutoencoderTrain
from tridrop.specs import Rows, TrainSpec, dump

FAILURES = [
    Failure("data", "`tridrop data prepare --spec '{\"dataset\": \"nope\"}'`",
            "ERROR tridrop: spec.dataset = 'nope' is not allowed; expected one of ['digits',",
            "nothing written; exit status 1"),
    Failure("data", "a training job whose stored split is missing", "No such file or directory: '.../missing.npz'",
            "nothing written; exit status 1 (Snakemake also reports the missing input before running)"),
    Failure("command line", "`tridrop ae train` with `\"epochs\": -5` in its spec (a job run by hand)",
            "spec.train.epochs = -5 is not allowed; expected an integer >= 1",
            "nothing trained or written; exit status 1 (jobs check their spec like the config check)"),
    Failure("command line", "a spec key the job does not know (a typo)",
            "spec.model: unknown key(s) ['hiden']; allowed: [",
            "nothing written; exit status 1"),
]  # fmt: skip


def jobs():
    for family, (module, _) in FAMILIES.items():
        for verb in importlib.import_module(module).VERBS:
            yield family, verb


@pytest.mark.parametrize(("family", "verb"), list(jobs()))
def test_every_job_has_help_listing_its_spec(capsys, family, verb):
    with pytest.raises(SystemExit) as exit_info:
        build_parser(family).parse_args([family, verb, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: tridrop {family} {verb}" in out and "spec fields (--spec JSON):" in out


def test_print_defaults_shows_the_specs_defaults(capsys):
    assert main(["ae", "train", "--print-defaults"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["train"]["epochs"] == TrainSpec().epochs
    assert printed["model"]["latent"] == AutoencoderModel().latent


def test_train_sweep_aggregate_plot(tmp_path: Path):
    t = {n: str(tmp_path / n) for n in ("d.npz", "td.pt", "s.csv", "r.npz", "all.csv")}
    assert main(["data", "prepare", "--spec", '{"dataset": "digits"}', "--out", t["d.npz"]]) == 0
    spec = AutoencoderTrain(AutoencoderModel(hidden=8, latent=3), TrainSpec(epochs=1, device="cpu"))
    assert main(["ae", "train", "--spec", dump(spec), "--data", t["d.npz"],
                 "--model", t["td.pt"]]) == 0  # fmt: skip
    meta = json.loads(Path(t["td.pt"]).with_suffix(".json").read_text())
    assert meta["arch"]["model"]["mode"] == "triangle" and meta["environment"]["device"] == "cpu"
    sweep = {"rows": {"experiment": "digits", "model": "td", "seed": 0}, "width": 3}
    assert main(["ae", "sweep", "--spec", json.dumps(sweep), "--model", t["td.pt"],
                 "--data", t["d.npz"], "--out", t["s.csv"], "--recon", t["r.npz"]]) == 0  # fmt: skip
    assert pd.read_csv(t["s.csv"])["width"].tolist() == [1, 2, 3]
    outs = {"--out": "all.csv", "--summary": "sum.csv", "--plots": "{experiment}_{metric}.csv",
            "--metrics": "m.json"}  # fmt: skip
    args = [a for k, v in outs.items() for a in (k, str(tmp_path / v))]
    assert main(["results", "aggregate", "--spec", '{"headline_widths": [1, 9]}',
                 "--sweeps", t["s.csv"], *args]) == 0  # fmt: skip
    assert set(json.loads((tmp_path / "m.json").read_text())["digits"]["mse"]["td"]) == {
        "w1",
        "full",
    }
    assert (tmp_path / "digits_mse.csv").exists()
    for args in (["ae", "plot_sweep", "--spec", '{"experiment": "digits"}', "--sweeps", t["all.csv"]],
                 ["ae", "plot_reconstructions", "--recon", t["r.npz"]], ["plot", "mask"]):  # fmt: skip
        png = tmp_path / f"{args[1]}.png"
        assert main([*args, "--png", str(png)]) == 0
        assert png.stat().st_size > 1000 and png.with_suffix(".pdf").exists()


def test_errors_are_reported_not_raised(tmp_path: Path, caplog, capsys):
    bad = '{"dataset": "nope"}'
    assert main(["data", "prepare", "--spec", bad, "--out", str(tmp_path / "x.npz")]) == 1
    assert FAILURES[0].seen.split("tridrop: ")[1] in caplog.text
    missing = tmp_path / "missing.npz"
    spec = dump(AutoencoderTrain(AutoencoderModel(hidden=4, latent=2), TrainSpec(device="cpu")))
    assert main(["ae", "train", "--spec", spec, "--data", str(missing),
                 "--model", str(tmp_path / "m.pt")]) == 1  # fmt: skip
    assert FAILURES[1].seen.split("...")[0] in caplog.text and "missing.npz" in caplog.text
    assert not (tmp_path / "m.pt").exists()
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "failure"),
    [(lambda s: s["train"].update(epochs=-5), 2), (lambda s: s["model"].update(hiden=3), 3)],
)
def test_a_bad_spec_is_refused_before_any_work(tmp_path: Path, caplog, edit, failure):
    spec = json.loads(dump(AutoencoderTrain(AutoencoderModel(), TrainSpec(device="cpu"))))
    edit(spec)
    data = tmp_path / "d.npz"
    assert main(["data", "prepare", "--spec", '{"dataset": "digits"}', "--out", str(data)]) == 0
    code = main(["ae", "train", "--spec", json.dumps(spec), "--data", str(data),
                 "--model", str(tmp_path / "m.pt")])  # fmt: skip
    assert code == 1 and FAILURES[failure].seen in caplog.text
    assert not (tmp_path / "m.pt").exists()


def test_missing_paths_are_named(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["ae", "sweep", "--spec", dump(Rows("e", "m"))])
    assert exit_info.value.code == 2
    assert "missing --model, --data, --out, --recon" in capsys.readouterr().err


def test_a_corrupt_idx_file_is_named_in_the_error(tmp_path: Path, caplog):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    assert main(["data", "prepare", "--spec", '{"dataset": "mnist"}', "--raw", str(tmp_path),
                 "--out", str(tmp_path / "m.npz")]) == 1  # fmt: skip
    assert "t10k-images-idx3-ubyte: truncated IDX header" in caplog.text
    assert not (tmp_path / "m.npz").exists()


# ---------------------------------------------------------------- every job, malformed inputs

ROWS = {"experiment": "e", "model": "td"}
# family, verb: a valid spec, one bad value (out of range or of the wrong type), the job's
# input paths by kind, and its output paths.
JOBS = {
    ("data", "download"): ({"dataset": "digits"}, {"test_fraction": 2}, {}, ["root"]),
    ("data", "prepare"): ({"dataset": "mnist"}, {"split_seed": -1}, {"raw": "idx"}, ["out"]),
    ("ae", "train"): ({"model": {"hidden": 8, "latent": 4}, "train": {"epochs": 1, "device": "cpu"}},
                      {"model": {"latent": 0}}, {"data": "split"}, ["model"]),
    ("ae", "sweep"): ({"rows": ROWS, "width": 4, "device": "cpu"}, {"recon_widths": [99]},
                      {"data": "split", "model": "ae"}, ["out", "recon"]),
    ("ae", "baselines"): ({"experiment": "e", "width": 4}, {"width": 0}, {"data": "split"},
                          ["out", "recon"]),
    ("ae", "analyse"): ({"rows": ROWS, "device": "cpu"}, {"feature_images": "all"}, {"data": "split", "model": "ae"},
                        ["importance", "dependence", "order"]),
    ("ae", "table"): ({}, None, {"importance": "csv", "dependence": "csv", "order": "csv"},
                      ["importance_out", "dependence_out", "order_out"]),
    ("ae", "claims"): ({"experiment": "e"}, {"fixed_ratio": "low"},
                       {"sweeps": "csv", "importance": "csv", "dependence": "csv", "order": "csv"},
                       ["out"]),
    ("head", "check"): ({"root": "MISSING"}, {"layout": "zip"}, {}, ["out"]),
    ("head", "backbone"): ({"model": {"channels": [2], "hidden": 4},
                            "train": {"epochs": 1, "device": "cpu"}},
                           {"model": {"dropout": 1.5}}, {"data": "split"}, ["model"]),
    ("head", "cache"): ({"dataset": "digits", "split": "train"}, {"split": "test"},
                        {"data": "split"}, ["out"]),
    ("head", "pretrained"): ({"weights": "MISSING"}, {"classes": "many"}, {}, ["model"]),
    ("head", "train"): ({"model": {"hidden": 8}, "train": {"epochs": 1, "device": "cpu"}},
                        {"train": {"lr": -1}}, {"features": "features", "init": "head"}, ["model"]),
    ("head", "sweep"): ({"rows": ROWS, "width": 8, "widths": [1, 8], "device": "cpu"}, {"widths": [64]},
                        {"features": "features", "model": "head"}, ["out", "params"]),
    ("head", "baselines"): ({"experiment": "e", "widths": [1, 8], "device": "cpu"},
                            {"widths": "all"},
                            {"train": "features", "val": "features", "reference": "head"},
                            ["out", "params"]),
    ("head", "table"): ({"experiment": "e"}, {"experiment": 3}, {"sweeps": "csv", "params": "csv"},
                        ["out"]),
    ("head", "probe"): ({"rows": ROWS, "width": 8, "train": {"epochs": 1, "device": "cpu"}},
                        {"train": {"lr": -1}}, {"train": "features", "val": "features"},
                        ["out", "params"]),
    ("head", "finetune"): ({"experiment": "e", "widths": [1, 4], "rank_samples": 50,
                            "train": {"epochs": 1, "device": "cpu"}},
                           {"train": {"epochs": 0}},
                           {"reference": "head", "train": "features", "val": "features"},
                           ["out", "params"]),
    ("head", "grid"): ({"experiment": "e", "model": "td", "widths": [1, 8], "device": "cpu"},
                       {"widths": "all"}, {"models": "head", "features": "features"}, ["out"]),
    ("head", "paired"): ({"experiment": "e", "model": "td", "widths": [1, 8], "rank_samples": 50,
                          "device": "cpu"}, {"widths": "all"},
                         {"models": "head", "others": "head", "reference": "head",
                          "train": "features", "val": "features"}, ["out"]),
    ("head", "claims"): ({"claims": {}, "classes": 10}, {"claims": {"kept_25": "most"}},
                         {"table": "csv", "sweeps": "csv"}, ["out"]),
    ("head", "select"): ({"experiment": "e", "model": "td", "widths": [1, 4], "device": "cpu"},
                         {"tolerances": "1%"}, {"models": "head", "features": "features"}, ["out"]),
    ("head", "gap"): ({"experiment": "e", "models": ["td"]}, {"models": "td"},
                      {"sweeps": "csv", "meta": "json"}, ["out"]),
    ("ae", "select"): ({"experiment": "e", "model": "td", "widths": [1, 2], "device": "cpu"},
                       {"confidence": 2}, {"models": "ae", "data": "split"}, ["out"]),
    ("ae", "gap"): ({"experiment": "e", "models": ["td"]}, {"models": "td"},
                    {"sweeps": "csv", "meta": "json"}, ["out"]),
    ("policy", "expert"): ({"env": {"env": "CartPole-v1"}, "ppo": {"timesteps": 64, "envs": 1,
                            "rollout": 32}}, {"ppo": {"timesteps": 0}}, {}, ["model"]),
    ("policy", "train"): ({"model": {"hidden": 4}, "train": {"epochs": 1, "device": "cpu"},
                           "dagger": {}, "env": {"env": "CartPole-v1"}},
                          {"dagger": {"dagger_rounds": -1}}, {"expert": "head"}, ["model"]),
    ("policy", "sweep"): ({"rows": ROWS, "width": 8, "env": {"env": "CartPole-v1"}},
                          {"widths": [64]}, {"model": "head", "expert": "head"},
                          ["out", "episodes"]),
    ("policy", "baselines"): ({"rows": ROWS, "width": 8, "env": {"env": "CartPole-v1"}},
                              {"rank_states": 0}, {"model": "head", "expert": "head"},
                              ["out", "episodes"]),
    ("policy", "table"): ({"experiment": "e", "width": 8}, {"boot": 1}, {"episodes": "csv"},
                          ["out", "curve"]),
    ("policy", "select"): ({"experiment": "e", "model": "td", "widths": [1, 4]},
                           {"confidence": 2}, {"episodes": "csv"}, ["out"]),
    ("policy", "claims"): ({"experiment": "e", "width": 8, "claims": {}}, {"claims": {"level": 2}},
                           {"episodes": "csv"}, ["out"]),
    ("policy", "plot_return"): ({}, None, {"curve": "csv"}, ["png"]),
    ("policy", "iqm"): ({}, {"boot": 1}, {"episodes": "csv"}, ["out"]),
    ("policy", "plot_iqm"): ({}, {"boot_seed": -1}, {"table": "csv"}, ["png"]),
    ("policy", "plot_complexity"): ({"width": 8}, {"width": 0}, {"tables": "csv"}, ["png"]),
    ("policy", "trajectory"): ({"rows": ROWS, "env": {"env": "CartPole-v1"}, "widths": [1, 4]},
                               {"widths": [0]}, {"model": "head", "expert": "head"}, ["out"]),
    ("policy", "plot_trajectory"): ({}, None, {"trajectory": "csv"}, ["png"]),
    ("results", "collect"): ({}, None, {"sweeps": "csv"}, ["out"]),
    ("results", "aggregate"): ({}, {"headline_widths": ["a"]}, {"sweeps": "csv"},
                               ["out", "summary", "metrics"]),
    ("results", "claims"): ({}, None, {"claims": "csv"}, ["out", "metrics"]),
    ("results", "environment"): ({}, {"device": "tpu"}, {}, ["out"]),
    ("results", "readme"): ({}, {"presets": 3}, {"config": "yaml", "captions": "dir"}, []),
    ("model", "select"): ({"trust": True, "widths": [2, 4]}, {"tolerance": -1},
                          {"model": "module", "data": "tensors"}, ["out"]),
    ("model", "export"): ({"trust": True, "width": 4, "onnx": False}, {"width": -1},
                          {"model": "module", "data": "tensors"}, ["pt2"]),
    ("plot", "mask"): ({}, {"mask_width": 0}, {}, ["png"]),
    ("ae", "plot_sweep"): ({"experiment": "e"}, {"metric": 1}, {"sweeps": "csv"}, ["png"]),
    ("ae", "plot_reconstructions"): ({}, {"title": 1}, {"recon": "npz"}, ["png"]),
    ("ae", "plot_features"): ({"kind": "importance"}, {"kind": "both"}, {"table": "csv"}, ["png"]),
    ("head", "plot_accuracy"): ({}, None, {"table": "csv"}, ["png"]),
}  # fmt: skip
KINDS = ("bad JSON spec", "unknown spec key", "out-of-range value", "missing input file",
         "corrupt input file", "input of another job or family")  # fmt: skip
FAILURES += [
    Failure("command line", f"any `tridrop <family> <verb>`: {kind}",
            "one line: ERROR tridrop: <the file or spec key>: <what is wrong>",
            "nothing written; exit status 1; no traceback (`--verbose` shows it)")
    for kind in KINDS
]  # fmt: skip


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Valid inputs: a digits split, an autoencoder, a head and its feature caches."""
    t = tmp_path_factory.mktemp("made")
    f = {"split": t / "d.npz", "ae": t / "ae.pt", "features": t / "train", "val": t / "val",
         "head": t / "head.pt", "module": t / "module.pt", "tensors": t / "tensors.pt"}  # fmt: skip
    from tridrop.dropout import TriangularDropout

    torch.save(torch.nn.Sequential(torch.nn.Linear(3, 8), TriangularDropout(8)), f["module"])
    torch.save({"x": torch.randn(10, 3), "y": torch.zeros(10, dtype=torch.long)}, f["tensors"])
    assert (
        main(["data", "prepare", "--spec", '{"dataset": "digits"}', "--out", str(f["split"])]) == 0
    )
    spec = JOBS[("ae", "train")][0]
    assert main(["ae", "train", "--spec", json.dumps(spec), "--data", str(f["split"]),
                 "--model", str(f["ae"])]) == 0  # fmt: skip
    for split, out in (("train", f["features"]), ("val", f["val"])):
        spec = json.dumps({"dataset": "digits", "split": split})
        assert (
            main(["head", "cache", "--spec", spec, "--data", str(f["split"]), "--out", str(out)])
            == 0
        )
    spec = JOBS[("head", "train")][0]
    assert main(["head", "train", "--spec", json.dumps(spec), "--features", str(f["features"]),
                 "--model", str(f["head"])]) == 0  # fmt: skip
    return f


def main_as_process(args: list[str]) -> int:
    """``main`` logging to stderr as in its own process (pytest's log capture set aside)."""
    handlers, level = logging.root.handlers, logging.root.level
    logging.root.handlers = []
    try:
        return main(args)
    finally:
        logging.root.handlers, logging.root.level = handlers, level


def corrupt(path: Path, kind: str) -> Path:
    if kind in ("features", "dir", "idx"):
        path.mkdir(parents=True)
        name = {"features": "index.json", "idx": "t10k-images-idx3-ubyte"}.get(kind, "x.csv")
        (path / name).write_bytes(b"\x89garbage\x00\xff\xfe")
        if kind == "idx":
            (path / "t10k-labels-idx1-ubyte").write_bytes(b"\x89garbage\x00\xff\xfe")
    else:
        path.write_bytes(b"\x89garbage\x00\xff\xfe")
    return path


def other(path: Path, kind: str, made: dict[str, Path]) -> Path | None:
    """An input of the right format but the wrong content: another family's model, another
    job's table."""
    if kind in ("ae", "head"):
        return made["head" if kind == "ae" else "ae"]
    if kind == "csv":
        path.write_text("width,top1\n1,0.5\n")
        return path
    return None


def cases():
    for (family, verb), (_, bad_value, inputs, _) in JOBS.items():
        yield family, verb, "bad JSON spec"
        yield family, verb, "unknown spec key"
        if bad_value is not None:
            yield family, verb, "out-of-range value"
        if inputs or verb in ("check", "pretrained"):
            yield family, verb, "missing input file"
            yield family, verb, "corrupt input file"
        if any(k in ("ae", "head", "csv") for k in inputs):
            yield family, verb, "input of another job or family"


@pytest.mark.parametrize(("family", "verb", "kind"), list(cases()))
def test_every_job_reports_malformed_input_in_one_line(tmp_path, made, capsys, family, verb, kind):
    spec, bad_value, inputs, outputs = JOBS[(family, verb)]
    spec = json.loads(json.dumps(spec))
    paths = {k: made.get(v, made["split"]) for k, v in inputs.items()}
    named: list[str] = []  # what the line must name (one of)
    if kind == "bad JSON spec":
        text, named = json.dumps(spec)[:-1] + ",", ["spec: not valid JSON"]
    elif kind == "unknown spec key":
        spec["colour"] = "blue"
        text, named = json.dumps(spec), ["spec: unknown key(s) ['colour']"]
    elif kind == "out-of-range value":
        key = next(iter(bad_value))
        for k, v in bad_value.items():
            spec[k] = {**spec[k], **v} if isinstance(v, dict) else v
        text, named = json.dumps(spec), [f"spec.{key}"]
    else:
        for name, k in inputs.items():
            p = tmp_path / f"bad_{name}"
            if kind == "missing input file":
                paths[name] = p
            elif kind == "corrupt input file":
                paths[name] = corrupt(p, k)
            elif (q := other(p, k, made)) is not None:
                paths[name] = q
            if paths[name].name.startswith("bad_"):
                named.append(paths[name].name)
        if kind == "input of another job or family" and any(
            k in ("ae", "head") for k in inputs.values()
        ):
            named += [made["head"].name, made["ae"].name]
        for key in ("root", "weights"):  # jobs whose input is a path in their spec
            if spec.get(key) == "MISSING":
                spec[key] = str(corrupt(tmp_path / "bad_weights", "x") if kind.startswith("corrupt")
                                else tmp_path / "bad_root")  # fmt: skip
                named.append(Path(spec[key]).name)
        text = json.dumps(spec)
    args = [family, verb, "--spec", text]
    for name, p in paths.items():
        args += [f"--{name.replace('_', '-')}", str(p)]
    for name in outputs:
        args += [f"--{name.replace('_', '-')}", str(tmp_path / "out" / name)]
    if verb == "aggregate":
        args += ["--plots", str(tmp_path / "out" / "{experiment}_{metric}.csv")]
    if verb == "readme":
        args += ["--check"]
    code = main_as_process(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and "Traceback" not in err, err
    assert len(lines) == 1 and " ERROR tridrop: " in lines[0], err
    assert any(n in lines[0] for n in named), (named, lines[0])
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


FAILURES += [
    Failure("command line", "`tridrop ae baselines` (PCA) with a width above the data's dimension",
            "spec.width = 1000 is larger than the data's dimension (64 values per image",
            "nothing written; exit status 1"),
    Failure("command line", "`tridrop ae sweep` given a model wider than the sweep's width",
            "a latent layer of 4 units, wider than the sweep's spec.width = 2",
            "nothing written; exit status 1"),
    Failure("command line", "`tridrop head sweep` given a head wider than the sweep's width",
            "hidden layers of 8 units, wider than the sweep's spec.width = 4",
            "nothing written; exit status 1"),
    Failure("command line", "an autoencoder model file given to `tridrop head sweep`",
            "not a classifier-head model file (its kind is 'autoencoder')",
            "nothing written; exit status 1"),
    Failure("command line", "a head model file given to `tridrop ae sweep`",
            "not an autoencoder model file (its kind is 'head')", "nothing written; exit status 1"),
    Failure("command line", "an autoencoder made for other images (e.g. MNIST's on the digits)",
            "an autoencoder for images of shape [1, 28, 28], but the data has images of shape [1, 8, 8]",
            "nothing written; exit status 1"),
]  # fmt: skip
MISFITS = FAILURES[-6:]


def test_widths_and_models_that_do_not_fit_are_named(tmp_path, made, caplog):
    out = ["--out", str(tmp_path / "o.csv")]
    pca = json.dumps({"experiment": "e", "width": 1000})
    ae = ["--recon", str(tmp_path / "r.npz"), "--data", str(made["split"])]
    assert main(["ae", "baselines", "--spec", pca, *ae, *out]) == 1
    sweep = json.dumps({"rows": ROWS, "width": 2, "device": "cpu"})
    assert main(["ae", "sweep", "--spec", sweep, "--model", str(made["ae"]), *ae, *out]) == 1
    head = ["--params", str(tmp_path / "p.csv"), "--features", str(made["val"])]
    sweep = json.dumps({"rows": ROWS, "width": 4, "widths": [4], "device": "cpu"})
    assert main(["head", "sweep", "--spec", sweep, "--model", str(made["head"]), *head, *out]) == 1
    sweep = json.dumps({"rows": ROWS, "width": 8, "widths": [8], "device": "cpu"})
    assert main(["head", "sweep", "--spec", sweep, "--model", str(made["ae"]), *head, *out]) == 1
    sweep = json.dumps({"rows": ROWS, "width": 4, "device": "cpu"})
    assert main(["ae", "sweep", "--spec", sweep, "--model", str(made["head"]), *ae, *out]) == 1
    # An autoencoder for 28x28 images on the 8x8 digits (data of another shape).
    from tridrop.families.autoencoder.models import build_autoencoder
    from tridrop.families.autoencoder.specs import AutoencoderModel
    from tridrop.files import load_model_file, save_model
    from tridrop.specs import load

    _, meta = load_model_file(made["ae"])
    meta["arch"]["shape"] = [1, 28, 28]
    other = tmp_path / "mnist_ae.pt"
    spec = load(AutoencoderModel, meta["arch"]["model"])
    save_model(other, build_autoencoder(spec, [1, 28, 28]), meta)
    assert main(["ae", "sweep", "--spec", sweep, "--model", str(other), *ae, *out]) == 1
    for case in MISFITS:
        assert case.seen in caplog.text, case.seen
    assert not (tmp_path / "o.csv").exists()


def test_a_real_process_prints_one_line(tmp_path):
    """The same contract from the installed command (logging set up by main, as in a rule)."""
    from conftest import run

    proc = run(["tridrop", "ae", "sweep", "--spec", '{"rows": {"experiment": "e", "model": "m"}, '
                '"width": 4, "device": "cpu"}', "--model", str(tmp_path / "bad_model.pt"),
                "--data", str(tmp_path / "bad_data.npz"), "--out", str(tmp_path / "o.csv"),
                "--recon", str(tmp_path / "r.npz")], tmp_path, check=False)  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr
    assert "ERROR tridrop:" in lines[0] and "bad_data.npz" in lines[0]


# ---------------------------------------------------------------- paths, --spec files, Ctrl-C

SAME_FILE = Failure(
    "command line", "an output path equal to an input or another output (`--data d.npz --model d.npz`, "
    "`--model m.pt --checkpoint m.pt`, a link or a hard link to the same file)",
    "--data (d.npz) and --model (d.npz) are the same file; each path option needs its own",
    "nothing read or written; exit status 1")  # fmt: skip
SPEC_FILE = Failure(
    "command line", "`--spec spec.json`: a file name where the spec's JSON text is expected",
    "spec: not valid JSON: 'spec.json' looks like a file name, but --spec takes the JSON text "
    'itself; to pass a file use --spec "$(cat spec.json)"', "nothing written; exit status 1")  # fmt: skip
CTRL_C = Failure(
    "interruption", "Ctrl-C (SIGINT) during a job other than training",
    "ERROR tridrop: interrupted; outputs are written whole or not at all",
    "the previous complete outputs, or none; exit status 130")  # fmt: skip
FAILURES += [SAME_FILE, SPEC_FILE, CTRL_C]
TINY_AE = json.dumps(JOBS[("ae", "train")][0])


def errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize(
    ("options", "first", "second"),
    [({"--data": "d.npz", "--model": "d.npz"}, "--data (d.npz)", "--model (d.npz)"),
     ({"--data": "d.npz", "--model": "m.pt", "--checkpoint": "m.pt"}, "--model (m.pt)",
      "--checkpoint (m.pt)"),
     ({"--data": "d.npz", "--model": "m.pt", "--checkpoint": "m.json"},
      "the .json file beside --model (m.pt)", "--checkpoint (m.json)"),
     ({"--data": "link.npz", "--model": "sub/../d.npz"}, "--data (link.npz)",
      "--model (sub/../d.npz)"),
     ({"--data": "hard.npz", "--model": "d.npz"}, "--data (hard.npz)", "--model (d.npz)")],
    ids=["data-is-model", "model-is-checkpoint", "checkpoint-is-metadata", "symlink", "hard-link"],
)  # fmt: skip
def test_an_output_aliasing_another_path_is_refused(tmp_path, monkeypatch, caplog, options,
                                                     first, second):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["data", "prepare", "--spec", '{"dataset": "digits"}', "--out", "d.npz"]) == 0
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.npz").symlink_to(tmp_path / "d.npz")
    (tmp_path / "hard.npz").hardlink_to(tmp_path / "d.npz")
    (tmp_path / "m.pt").write_bytes(b"an earlier model")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    args = [a for k, v in options.items() for a in (k, v)]
    assert main(["ae", "train", "--spec", TINY_AE, *args]) == 1
    seen = SAME_FILE.seen.replace("--data (d.npz)", first).replace("--model (d.npz)", second)
    assert errors(caplog) == [seen + " (an output written there would replace or delete the other)"]
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_a_list_may_name_its_file_twice_but_not_another_options(tmp_path, caplog):
    sweep = tmp_path / "s.csv"
    sweep.write_text("experiment,model,seed,width,metric,value\ne,td,0,1,mse,0.5\n")
    out = tmp_path / "all.csv"
    assert main(["results", "collect", "--sweeps", str(sweep), str(sweep), "--out", str(out)]) == 0
    assert main(["results", "collect", "--sweeps", str(out), str(sweep), "--out", str(out)]) == 1
    assert f"--sweeps ({out}) and --out ({out}) are the same file" in errors(caplog)[0]


def test_a_spec_file_name_gets_a_hint(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    Path("spec.json").write_text(TINY_AE)
    assert main(["ae", "train", "--spec", "spec.json", "--data", "d.npz", "--model", "m.pt"]) == 1
    assert errors(caplog) == [SPEC_FILE.seen]
    Path("spec.json").rename("settings")  # an existing file of any name
    assert main(["ae", "train", "--spec", "settings", "--data", "d.npz", "--model", "m.pt"]) == 1
    assert "'settings' looks like a file name" in errors(caplog)[-1]
    assert main(["ae", "train", "--spec", "{oops", "--data", "d.npz", "--model", "m.pt"]) == 1
    assert "spec: not valid JSON (" in errors(caplog)[-1]


def test_ctrl_c_in_a_job_is_one_line_and_status_130(tmp_path, monkeypatch, caplog):
    def interrupted(device):
        raise KeyboardInterrupt

    monkeypatch.setattr("tridrop.jobs.results.versions", interrupted)
    out = tmp_path / "env.json"
    try:
        code = main(["results", "environment", "--spec", "{}", "--out", str(out)])
    except KeyboardInterrupt:  # not let through to pytest, which would stop the session
        pytest.fail("KeyboardInterrupt escaped main")
    assert code == 130
    assert errors(caplog) == [CTRL_C.seen.split("tridrop: ")[1]] and not out.exists()


def test_every_rule_runs_a_verb_the_cli_offers():
    """A job a rule calls (``PIPE.command(<wing>.family, "verb")``) is a verb of its family's
    CLI: a verb missing from ``VERBS`` fails only when the pipeline reaches that rule."""
    import re

    from conftest import ROOT

    wings = {
        "AE": "tridrop.families.autoencoder.jobs",
        "HEAD": "tridrop.families.head.jobs",
        "POLICY": "tridrop.families.policy.jobs",
    }
    found = 0
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for wing, verb in re.findall(
            r'PIPE\.(?:command|code)\((\w+)\.family, "(\w+)"', smk.read_text()
        ):
            assert verb in importlib.import_module(wings[wing]).VERBS, (smk.name, verb)
            found += 1
    assert found > 20
