"""Atomic writes: a failed write leaves neither the output nor a temporary file."""

import pytest

from failures import Failure
from tridrop.files import atomic

FAILURES = [
    Failure(
        "outputs",
        "a job killed or failing while writing an output",
        "(the job's error)",
        "the previous complete file, or none; never a truncated file under the output's name",
    ),
]


def test_success_renames_into_place(tmp_path):
    out = tmp_path / "sub" / "table.csv"
    with atomic(out) as tmp:
        assert tmp.name == "table.tmp.csv"
        tmp.write_text("a,b\n")
    assert out.read_text() == "a,b\n" and sorted(p.name for p in out.parent.iterdir()) == [
        "table.csv"
    ]


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    out = tmp_path / "model.pt"
    out.write_text("complete old result")
    with pytest.raises(RuntimeError), atomic(out) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert out.read_text() == "complete old result"
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


FAILURES += [
    Failure("disk", "the disk fills up while a job writes an output (ENOSPC)",
            "disk full while writing .../sweep.csv: free some space and rerun",
            "the previous complete file, or none; no temporary file; exit status 1"),
]  # fmt: skip


def test_disk_full_is_one_clear_line(tmp_path, monkeypatch, caplog):
    import errno

    import torch

    from tridrop import files
    from tridrop.cli import main

    out = tmp_path / "sweep.csv"
    out.write_text("old,complete\n")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("pandas.DataFrame.to_csv", full)
    sweep = tmp_path / "s.csv"
    sweep.write_text("experiment,model,seed,width,metric,value\ne,td,0,1,mse,0.5\n")
    assert main(["results", "collect", "--spec", "{}", "--sweeps", str(sweep),
                 "--out", str(out)]) == 1  # fmt: skip
    seen = FAILURES[-1].seen.replace(".../sweep.csv", str(out))
    assert seen in caplog.text and "unexpected pos" not in caplog.text
    assert out.read_text() == "old,complete\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "s.csv", "sweep.csv"]  # fmt: skip
    # torch's zip writer says "unexpected pos" when a write fails; on a full disk, say so.
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(
        RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")))  # fmt: skip
    monkeypatch.setattr(files.shutil, "disk_usage", lambda p: type("U", (), {"free": 0})())
    with pytest.raises(files.DiskFull, match=f"disk full while writing {tmp_path / 'm.pt'}"):
        files.save_torch({"a": 1}, tmp_path / "m.pt")
