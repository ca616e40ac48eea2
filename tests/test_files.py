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
