"""The registry of experiment families: one wing each (``tridrop.families.<name>``), named once
here.

A wing holds its family's specs (the config section and every job's settings), models,
evaluation, baselines, claims, figures, jobs and workflow helpers; wings never import each
other. The Snakefile, the config check, the CLI and the results pages iterate over
:data:`FAMILIES`; a family defined elsewhere (a plugin, or a test's toy family) joins them
through the config's ``families:`` list of files (:func:`load`).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType


@dataclass(frozen=True)
class Family:
    """What the pipeline needs to know of a family; everything else lives in its wing."""

    name: str  # the wing's name, e.g. "autoencoder"
    section: str  # its key under a preset (and the target rule of the family alone)
    cli: str  # `tridrop <cli> <verb>`
    doc: str
    rules: str  # its rule file, relative to the repository root
    package: str  # the wing's package (specs, jobs, workflow modules)
    metrics: tuple[str, ...]  # the metrics its sweeps write
    # Stems of its per-experiment files (figures/<experiment>_<stem>...): another experiment
    # named <experiment>_<stem>... would make those names ambiguous (the config check refuses).
    stems: tuple[str, ...] = ()
    # Model roles by result-row name: reference (unconstrained), per_width (trained at one
    # width), control (training-free baseline), relative (another method serving every
    # width); every other model is a variant of the method under test.
    roles: dict[str, str] = field(default_factory=dict)

    def module(self, name: str) -> ModuleType:
        """One of the wing's modules (``specs``, ``jobs``, ``workflow``)."""
        return importlib.import_module(f"{self.package}.{name}")

    def role(self, model: str) -> str:
        return self.roles.get(model, "variant")


AUTOENCODER = Family(
    name="autoencoder",
    section="autoencoders",
    cli="ae",
    doc="variable-size autoencoders",
    rules="workflow/rules/autoencoder.smk",
    package="tridrop.families.autoencoder",
    metrics=("mse",),
    stems=("mse_vs_width", "importance", "dependence", "order", "reconstructions", "gap"),
    roles={
        "notd": "reference",
        "fixed": "per_width",
        "pca": "control",
        "pcaae": "relative",
        # No TD cut without training: dropped units at their mean, the code's PCA, units in
        # greedy order (its sweep), units sorted by importance (its order at the top).
        "notd_meanfill": "control",
        "notd_pca": "control",
        "notd_greedy": "control",
        "notd_sorted": "control",
    },
)
HEAD = Family(
    name="head",
    section="heads",
    cli="head",
    doc="classifier heads on cached features (VGG19, stand-ins)",
    rules="workflow/rules/head.smk",
    package="tridrop.families.head",
    metrics=("top1", "top5"),
    stems=("accuracy_vs_params", "grid"),
    roles={
        "notd": "reference",
        "reference": "reference",
        "fixed": "per_width",
        "ranked": "control",
        "svd": "control",
        "linear_probe": "control",
        # The training-free cuts, then trained at that width: the price of retraining.
        "ranked_ft": "per_width",
        "svd_ft": "per_width",
    },
)
POLICY = Family(
    name="policy",
    section="policies",
    cli="policy",
    doc="variable-width policies distilled from PPO experts (Gymnasium)",
    rules="workflow/rules/policy.smk",
    package="tridrop.families.policy",
    metrics=("return",),  # normalised: 0 a random policy, 1 the expert
    stems=("return_vs_width", "complexity", "return_curve", "trajectory"),
    roles={
        "notd": "reference",
        "fixed": "per_width",
        # The no-TD student cut without training: last units zeroed, units sorted first.
        "notd_cut": "control",
        "notd_sorted": "control",
    },
)
FAMILIES: dict[str, Family] = {f.name: f for f in (AUTOENCODER, HEAD, POLICY)}


def load(paths: list[str] | tuple[str, ...] = ()) -> dict[str, Family]:
    """The built-in families and those in the folders ``paths``: each a package whose
    ``__init__.py`` defines ``FAMILY`` (its ``package`` is the folder's name)."""
    found = dict(FAMILIES)
    for path in paths:
        init = Path(path) / "__init__.py"
        if not init.is_file():
            raise ValueError(f"config: families: {path!r} is not a folder with an __init__.py")
        name = Path(path).resolve().name
        if name not in sys.modules:  # a package by its path: no sys.path edit
            spec = importlib.util.spec_from_file_location(
                name, init, submodule_search_locations=[str(Path(path).resolve())]
            )
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
        family = getattr(sys.modules[name], "FAMILY", None)
        if not isinstance(family, Family):
            raise ValueError(f"config: families: {path} defines no FAMILY = Family(...)")
        if family.name in found or family.section in {f.section for f in found.values()}:
            raise ValueError(f"config: families: {path}: family {family.name!r} exists already")
        found[family.name] = family
    return found
