"""Failure cases the tests provoke, as data: what the input is, what the user sees, what is kept.

Test modules list their cases as :class:`Failure` rows and assert ``seen`` against the real
message; ``render`` turns every module's rows into the reliability table of
``docs/reliability.md``, so the table shows exactly what the tests check (``make readme`` writes
it, a test keeps it in step).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

START = "<!-- reliability:start (written by `make readme` from the tests' cases) -->"
END = "<!-- reliability:end -->"
PAGE = Path(__file__).resolve().parents[1] / "docs" / "reliability.md"
MODULES = (
    "test_config",
    "test_train",
    "test_data",
    "test_vgg",
    "test_cli",
    "test_files",
    "test_dvc_exp",
    "test_dropout",
    "test_extract",
    "test_convert",
    "test_slurm",
    "test_workflow",
)


@dataclass(frozen=True)
class Failure:
    """One failure mode: the bad ``input``, text the user ``seen``, and what is ``kept``."""

    area: str
    input: str
    seen: str
    kept: str

    @property
    def id(self) -> str:
        return self.input


def cases() -> list[Failure]:
    """Every module's ``FAILURES`` in module order."""
    rows: list[Failure] = []
    for name in MODULES:
        module = importlib.import_module(name)
        rows += list(getattr(module, "FAILURES", []))
    return rows


def render(rows: list[Failure]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [START, "", "| # | area | input | what the user sees (checked by the tests) | what is kept |",
             "|---|---|---|---|---|"]  # fmt: skip
    for i, r in enumerate(rows, 1):
        lines.append(f"| {i} | {r.area} | {cell(r.input)} | `{cell(r.seen)}` | {cell(r.kept)} |")
    return "\n".join([*lines, "", END]) + "\n"


def splice(page: str, table: str) -> str:
    start, end = page.index(START), page.index(END) + len(END) + 1
    return page[:start] + table + page[end:]


if __name__ == "__main__":
    PAGE.write_text(splice(PAGE.read_text(), render(cases())))
