"""The command line: help and defaults of every job, the jobs end to end, one-line errors."""

import importlib
import json
from pathlib import Path

import pandas as pd
import pytest

from failures import Failure
from tridrop.cli import FAMILIES, build_parser, main
from tridrop.specs import AutoencoderModel, AutoencoderTrain, Rows, TrainSpec, dump

FAILURES = [
    Failure("data", "`tridrop data prepare --spec '{\"dataset\": \"nope\"}'`",
            "ERROR tridrop: unknown dataset 'nope'; choose one of",
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
    assert meta["arch"]["mode"] == "triangle" and meta["environment"]["device"] == "cpu"
    sweep = {"rows": {"experiment": "digits", "model": "td", "seed": 0}, "width": 3}
    assert main(["ae", "sweep", "--spec", json.dumps(sweep), "--model", t["td.pt"],
                 "--data", t["d.npz"], "--out", t["s.csv"], "--recon", t["r.npz"]]) == 0  # fmt: skip
    assert pd.read_csv(t["s.csv"])["width"].tolist() == [1, 2, 3]
    outs = {"--out": "all.csv", "--summary": "sum.csv", "--wide": "{experiment}_{metric}_wide.csv",
            "--metrics": "m.json"}  # fmt: skip
    args = [a for k, v in outs.items() for a in (k, str(tmp_path / v))]
    assert main(["results", "aggregate", "--spec", '{"headline_widths": [1, 9]}',
                 "--sweeps", t["s.csv"], *args]) == 0  # fmt: skip
    assert set(json.loads((tmp_path / "m.json").read_text())["digits"]["mse"]["td"]) == {
        "w1",
        "full",
    }
    assert (tmp_path / "digits_mse_wide.csv").exists()
    for args in (["sweep", "--spec", '{"experiment": "digits"}', "--sweeps", t["all.csv"]],
                 ["reconstructions", "--recon", t["r.npz"]], ["mask"]):  # fmt: skip
        png = tmp_path / f"{args[0]}.png"
        assert main(["plot", *args, "--png", str(png)]) == 0
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
