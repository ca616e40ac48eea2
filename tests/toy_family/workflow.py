"""What the toy rule asks of the config."""

from __future__ import annotations

from toy_family import FAMILY
from toy_family.specs import Count
from tridrop.pipeline import Wing, expand
from tridrop.specs import dump


class Workflow(Wing):
    family = FAMILY

    def data(self, w) -> str:
        return self.pipe.stored_split(self.rules, self.experiments[w.experiment].dataset)

    def spec(self, w) -> str:
        return dump(Count(w.experiment, self.experiments[w.experiment].limit))

    def sweeps(self, experiment: str) -> list[str]:
        return [self.rules.toy_count.output.out.format(experiment=experiment)]

    def claims(self) -> list[str]:
        return []

    def targets(self) -> list[str]:
        return expand(self.rules.toy_count.output.out, experiment=list(self.experiments))
