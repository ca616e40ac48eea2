"""What the policy rules (``workflow/rules/policy.smk``) ask of the config: each job's spec,
its inputs and the family's targets. Plain Python, unit-tested without Snakemake.

Each method takes Snakemake's wildcards ``w`` (``w.experiment``, ``w.variant``, ``w.seed``);
paths come from the rules' own outputs, so each is written once.
"""

from __future__ import annotations

from tridrop.families.policy import specs
from tridrop.pipeline import Wing, expand
from tridrop.registry import POLICY
from tridrop.specs import Rows, Select, dump, rows_name


class Workflow(Wing):
    """The policy experiments (one environment each) of the chosen preset."""

    family = POLICY

    # ------------------------------------------------------------------ inputs

    def expert(self, w) -> str:
        return self.rules.policy_expert.output.model.format(experiment=w.experiment)

    def notd(self, w) -> str:
        """The no-TD student of seed ``w.seed`` (what the baselines cut)."""
        return self.rules.policy_train.output.model.format(
            experiment=w.experiment, variant="notd", seed=w.seed
        )

    def episodes(self, w) -> list[str]:
        """Every per-episode file of an experiment (runs and baselines, every seed)."""
        return self.episode_files(w.experiment)

    def episode_files(self, experiment: str) -> list[str]:
        r = self.rules
        return [
            *self.runs(experiment, r.policy_sweep.output.episodes),
            *self.per_seed(experiment, r.policy_baselines.output.episodes),
        ]

    def all_episodes(self, w=None) -> list[str]:
        """Every experiment's per-episode files (the IQM over environments)."""
        return [f for x in self.experiments for f in self.episode_files(x)]

    def per_seed(self, experiment: str, path: str) -> list[str]:
        return expand(path, experiment=experiment, seed=self.experiments[experiment].seeds)

    def sweeps(self, experiment: str) -> list[str]:
        r = self.rules
        return [
            *self.runs(experiment, r.policy_sweep.output.out),
            *self.per_seed(experiment, r.policy_baselines.output.out),
        ]

    # ------------------------------------------------------------------ specs

    def expert_spec(self, w) -> str:
        return dump(specs.expert_spec(self.exp(w)))

    def train_spec(self, w) -> str:
        s = self.pipe.settings
        fixed = {"seed": int(w.seed), "device": s.device, "deterministic": s.deterministic}
        return dump(specs.train_spec(self.exp(w), w.variant, **fixed))

    def sweep_spec(self, w) -> str:
        e = self.exp(w)
        rows = Rows(w.experiment, rows_name(w.variant), int(w.seed))
        return dump(specs.PolicySweep(rows, e.hidden, specs.env_spec(e), specs.sweep_widths(e)))

    def baselines_spec(self, w) -> str:
        e = self.exp(w)
        rows = Rows(w.experiment, "notd", int(w.seed))
        return dump(
            specs.PolicyBaselines(
                rows, e.hidden, specs.env_spec(e), specs.sweep_widths(e), e.rank_states
            )
        )

    def analysis_spec(self, w) -> str:
        return dump(specs.analysis_spec(w.experiment, self.exp(w)))

    def trajectory_model(self, w) -> str:
        """The claims' variant at the first seed (the student the trajectory figure shows)."""
        e = self.exp(w)
        return self.rules.policy_train.output.model.format(
            experiment=w.experiment, variant=e.claims.model, seed=e.seeds[0]
        )

    def trajectory_spec(self, w) -> str:
        e = self.exp(w)
        rows = Rows(w.experiment, e.claims.model, e.seeds[0])
        return dump(specs.PolicyTrajectory(rows, specs.env_spec(e), specs.trajectory_widths(e)))

    def select_episodes(self, w) -> list[str]:
        """The per-episode returns of the claims' variant, every seed (what select reads)."""
        e = self.exp(w)
        path = self.rules.policy_sweep.output.episodes
        return expand(path, experiment=w.experiment, variant=e.claims.model, seed=e.seeds)

    def select_spec(self, w) -> str:
        e = self.exp(w)
        widths = tuple(x for x in specs.sweep_widths(e) if x < e.hidden)
        return dump(Select(w.experiment, rows_name(e.claims.model), widths))

    def aggregate_spec(self, w=None) -> str:
        """The bootstrap of the IQM: the most resamples any experiment asks for."""
        boot = max(e.boot for e in self.experiments.values())
        return dump(specs.PolicyAggregate(boot))

    def complexity_tables(self, w=None) -> list[str]:
        """Every experiment's task-complexity table."""
        return expand(self.rules.policy_table.output.out, experiment=list(self.experiments))

    def complexity_spec(self, w=None) -> str:
        return dump(specs.PolicyComplexity(max(e.hidden for e in self.experiments.values())))

    def figure_spec(self, w) -> str:
        return dump(specs.PolicyFigure(w.experiment))

    # ------------------------------------------------------------------ targets

    def claims(self) -> list[str]:
        return expand(self.rules.policy_claims.output.out, experiment=list(self.experiments))

    def targets(self) -> list[str]:
        r, names = self.rules, list(self.experiments)
        return [
            *expand(r.policy_expert.output.model, experiment=names),
            *self.complexity_tables(),
            *expand(r.policy_claims.output.out, experiment=names),
            *expand(r.policy_select.output.out, experiment=names),
            *expand(r.policy_plot_return.output.png, experiment=names),
            *expand(r.policy_plot_trajectory.output.png, experiment=names),
            *([r.policy_plot_iqm.output.png, r.policy_plot_complexity.output.png] if names else []),
            # Every model and per-run file: one deleted after a run is rebuilt.
            *(m for x in names for m in self.runs(x, r.policy_train.output.model)),
            *(f for x in names for f in self.sweeps(x)),
            *(f for x in names for f in self.episode_files(x)),
        ]
