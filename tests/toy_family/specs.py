"""The toy family's settings: one job spec, and the config section made from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tridrop.specs import Experiment, Spec, SplitSpec, section, setting


@dataclass(frozen=True)
class Count(Spec):
    """Count the first ``limit`` training images of a split."""

    experiment: str = ""
    limit: int = setting(10, "images counted at most", ge=1)


EXPERIMENT = section("ToyExperiment", "One toy experiment.", (SplitSpec, Count), base=Experiment)
VARIANT = section("ToyVariant", "Toy variants change nothing.", (), base=Spec)


def job_specs(name: str, exp: Any) -> list[Spec]:
    return [Count(name, exp.limit)]
