"""The command line: help on every subcommand, results of the pipeline's commands, errors."""

import json
from pathlib import Path

import pandas as pd
import pytest

from failures import Failure
from tridrop.cli import build_parser, main

FAILURES = [
    Failure("data", "`tridrop prepare-data --dataset nope`", "ERROR tridrop: unknown dataset 'nope'; choose one of",
            "nothing written; exit status 1"),
    Failure("data", "a training job whose stored split is missing", "No such file or directory: '.../missing.npz'",
            "nothing written; exit status 1 (Snakemake also reports the missing input before running)"),
]  # fmt: skip

COMMANDS = ["prepare-data", "train-ae", "sweep-ae", "aggregate", "plot", "environment", "readme"]
COMMANDS += ["check-imagenet", "cache-features", "pretrained-head", "train-head", "sweep-head",
             "head-baselines", "head-table", "head-claims", "claims", "download", "pca",
             "features-ae", "aggregate-features", "claims-ae"]  # fmt: skip


def test_every_subcommand_has_help(capsys):
    for cmd in COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            build_parser().parse_args([cmd, "--help"])
        assert exit_info.value.code == 0
        assert "usage: tridrop " + cmd in capsys.readouterr().out


def test_train_sweep_aggregate_plot(tmp_path: Path):
    data, model = tmp_path / "digits.npz", tmp_path / "td.pt"
    assert main(["prepare-data", "--dataset", "digits", "--out", str(data)]) == 0
    assert main(["train-ae", "--data", str(data), "--hidden", "8", "--latent", "3",
                 "--epochs", "1", "--device", "cpu", "--out", str(model)]) == 0  # fmt: skip
    meta = json.loads(model.with_suffix(".json").read_text())
    assert meta["arch"]["mode"] == "triangle" and meta["environment"]["device"] == "cpu"
    sweep = tmp_path / "s.csv"
    assert main(["sweep-ae", "--model", str(model), "--data", str(data), "--experiment", "digits",
                 "--name", "td", "--seed", "0", "--out", str(sweep),
                 "--recon-out", str(tmp_path / "r.npz")]) == 0  # fmt: skip
    assert pd.read_csv(sweep)["width"].tolist() == [1, 2, 3]
    outs = {"--out": "all.csv", "--summary": "sum.csv", "--wide": "{experiment}_{metric}_wide.csv",
            "--metrics": "m.json"}  # fmt: skip
    args = [a for k, v in outs.items() for a in (k, str(tmp_path / v))]
    assert main(["aggregate", str(sweep), *args, "--headline-widths", "1", "9"]) == 0
    assert set(json.loads((tmp_path / "m.json").read_text())["digits"]["mse"]["td"]) == {
        "w1", "full"}  # fmt: skip
    assert (tmp_path / "digits_mse_wide.csv").exists()
    for args in (["sweep", "--input", str(tmp_path / "all.csv")],
                 ["reconstructions", "--input", str(tmp_path / "r.npz")], ["mask"]):  # fmt: skip
        png = tmp_path / f"{args[0]}.png"
        assert main(["plot", *args, "--out", str(png)]) == 0
        assert png.stat().st_size > 1000 and png.with_suffix(".pdf").exists()


def test_errors_are_reported_not_raised(tmp_path: Path, caplog):
    assert main(["prepare-data", "--dataset", "nope", "--out", str(tmp_path / "x.npz")]) == 1
    assert FAILURES[0].seen.split("tridrop: ")[1] in caplog.text
    missing = tmp_path / "missing.npz"
    assert main(["train-ae", "--data", str(missing), "--hidden", "4", "--latent", "2",
                 "--out", str(tmp_path / "m.pt")]) == 1  # fmt: skip
    assert FAILURES[1].seen.split("...")[0] in caplog.text and "missing.npz" in caplog.text
    assert not (tmp_path / "m.pt").exists()


def test_baselines_features_claims_and_their_figures(tmp_path: Path):
    names = ("d.npz", "td.pt", "s.csv", "p.csv", "all.csv", "imp.csv", "dep.csv", "c.csv")
    t = {name: str(tmp_path / name) for name in names}
    assert main(["prepare-data", "--dataset", "digits", "--out", t["d.npz"]]) == 0
    assert main(["train-ae", "--data", t["d.npz"], "--hidden", "8", "--latent", "3",
                 "--epochs", "2", "--device", "cpu", "--out", t["td.pt"]]) == 0  # fmt: skip
    assert main(["sweep-ae", "--model", t["td.pt"], "--data", t["d.npz"], "--experiment", "digits",
                 "--name", "td", "--seed", "0", "--out", t["s.csv"]]) == 0  # fmt: skip
    assert main(["pca", "--data", t["d.npz"], "--experiment", "digits", "--widths", "3",
                 "--out", t["p.csv"]]) == 0  # fmt: skip
    pca = pd.read_csv(t["p.csv"])
    assert pca["model"].unique().tolist() == ["pca"] and pca["width"].tolist() == [1, 2, 3]
    pd.concat([pd.read_csv(t["s.csv"]), pca]).to_csv(t["all.csv"], index=False)
    run_out = [str(tmp_path / "run_imp.csv"), str(tmp_path / "run_dep.csv")]
    assert main(["features-ae", "--model", t["td.pt"], "--data", t["d.npz"], "--experiment",
                 "digits", "--name", "td", "--seed", "0", "--images", "30", "--device", "cpu",
                 "--importance-out", run_out[0], "--dependence-out", run_out[1]]) == 0  # fmt: skip
    assert main(["aggregate-features", "--importance", run_out[0], run_out[0],
                 "--dependence", run_out[1], run_out[1], "--importance-out", t["imp.csv"],
                 "--dependence-out", t["dep.csv"]]) == 0  # fmt: skip
    assert len(pd.read_csv(t["imp.csv"])) == 6 and len(pd.read_csv(t["dep.csv"])) == 12
    assert main(["claims-ae", "--sweeps", t["all.csv"], "--importance", t["imp.csv"],
                 "--dependence", t["dep.csv"], "--experiment", "digits",
                 "--out", t["c.csv"]]) == 0  # fmt: skip
    assert main(["claims", t["c.csv"], t["c.csv"], "--out", str(tmp_path / "claims.csv")]) == 0
    claims = pd.read_csv(tmp_path / "claims.csv")
    assert len(claims) == 2 * len(pd.read_csv(t["c.csv"])) and claims["held"].dtype == bool
    for kind, table in (("importance", t["imp.csv"]), ("dependence", t["dep.csv"]),
                        ("sweep", t["all.csv"])):  # fmt: skip
        png = tmp_path / f"{kind}.png"
        assert main(["plot", kind, "--input", table, "--out", str(png)]) == 0
        assert png.stat().st_size > 1000 and png.with_suffix(".pdf").exists()


def test_a_corrupt_idx_file_is_named_in_the_error(tmp_path: Path, caplog):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 7)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x00")
    assert main(["prepare-data", "--dataset", "mnist", "--path", str(tmp_path),
                 "--out", str(tmp_path / "m.npz")]) == 1  # fmt: skip
    assert "t10k-images-idx3-ubyte: truncated IDX header" in caplog.text
    assert not (tmp_path / "m.npz").exists()
