"""The toy family's one job."""

from __future__ import annotations

from toy_family.specs import Count
from tridrop.data import load_split
from tridrop.evaluation import tidy
from tridrop.files import write_csv
from tridrop.job import In, Out


def count(spec: Count, *, data: In, out: Out):
    """How many training images (at most ``limit``), as a one-width sweep."""
    import torch

    n = min(spec.limit, len(load_split(data).x_train))
    write_csv(tidy(torch.tensor([float(n)]), spec.experiment, "toy", 0, "count"), out)


VERBS = ("count",)
