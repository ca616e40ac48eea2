"""The workflow's rule graph as a Mermaid diagram for docs/pipeline.md, from the DOT text of
``snakemake --rulegraph`` (``make readme`` writes it; a test keeps it in step)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

START = "<!-- rulegraph:start (written by `make readme` from `snakemake --rulegraph`) -->"
END = "<!-- rulegraph:end -->"
PAGE = Path("docs/pipeline.md")


def mermaid(dot: str) -> str:
    """A left-to-right Mermaid flowchart of the rules and their edges, in a fenced block."""
    names = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", dot, re.M))
    edges = sorted({(names[a], names[b]) for a, b in re.findall(r"^\s*(\d+) -> (\d+)", dot, re.M)})
    lines = ["```mermaid", "flowchart LR"]
    lines += [f"    {a} --> {b}" for a, b in edges]
    return "\n".join([*lines, "```"])


def splice(text: str, block: str) -> str:
    """``text`` with the block between the rule-graph markers replaced by ``block``."""
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{block}\n{END}{tail}"


def main() -> None:
    """Read the DOT text on standard input and rewrite the diagram in docs/pipeline.md."""
    PAGE.write_text(splice(PAGE.read_text(), mermaid(sys.stdin.read())))


if __name__ == "__main__":
    main()
