"""Data jobs: download a dataset's raw files, and store a dataset's fixed train/test split."""

from __future__ import annotations

import logging

from tridrop.data import download as fetch
from tridrop.data import prepare as build
from tridrop.job import In, Out
from tridrop.specs import SplitSpec

log = logging.getLogger(__name__)


def download(spec: SplitSpec, *, root: Out):
    """Download the raw files of ``spec.dataset`` with torchvision (mirrors, checksums)."""
    log.info("%s: raw files in %s", spec.dataset, fetch(spec.dataset, root))


def prepare(spec: SplitSpec, *, out: Out, raw: In | None = None):
    """Build the split of ``spec.dataset`` from its raw files (``raw``) and store it (``.npz``)."""
    build(
        spec.dataset,
        out,
        spec.test_fraction,
        spec.split_seed,
        path=raw,
        max_train=spec.max_train,
        max_test=spec.max_test,
        subset=spec.subset,
    )


VERBS = ("download", "prepare")
