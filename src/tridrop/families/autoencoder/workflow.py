"""What the autoencoder rules (``workflow/rules/autoencoder.smk``) ask of the config: each job's
spec, its inputs and the family's targets. Plain Python, unit-tested without Snakemake.

Each method takes Snakemake's wildcards ``w`` (``w.experiment``, ``w.variant``, ``w.seed``);
paths come from the rules' own outputs (``rules.<rule>.output``), so each is written once.
"""

from __future__ import annotations

from dataclasses import asdict

from tridrop.families.autoencoder import specs
from tridrop.pipeline import Wing, expand
from tridrop.registry import AUTOENCODER
from tridrop.specs import Gap, Rows, Select, TrainSpec, dump, pick, rows_name

# Variants trained by ae_train (PCAAE's runs folder belongs to ae_pcaae).
TRAINED = r"(?!pcaae/)[a-z][a-z0-9_]*"


class Workflow(Wing):
    """The autoencoder experiments of the chosen preset, as the rules see them."""

    family = AUTOENCODER
    TRAINED = TRAINED

    def pcaae_runs(self, experiment: str, path: str) -> list[str]:
        """File ``path`` of every PCAAE seed, when the experiment asks for PCAAE."""
        e = self.experiments[experiment]
        return expand(path, experiment=experiment, seed=e.seeds) if e.pcaae_widths else []

    # ------------------------------------------------------------------ inputs

    def data(self, w) -> str:
        return self.pipe.stored_split(self.rules, self.exp(w).dataset)

    def analyses(self, experiment: str, name: str) -> list[str]:
        """Per-run importance, dependence or order files of the configured variants."""
        e = self.experiments[experiment]
        path = getattr(self.rules.ae_analyse.output, name)
        return expand(path, experiment=experiment, variant=list(e.variants), seed=e.seeds)

    def importance(self, w) -> list[str]:
        return self.analyses(w.experiment, "importance")

    def dependence(self, w) -> list[str]:
        return self.analyses(w.experiment, "dependence")

    def order(self, w) -> list[str]:
        return self.analyses(w.experiment, "order")

    def sweeps(self, experiment: str) -> list[str]:
        """Every sweep file of the experiment: runs, PCA and PCAAE (what collect reads)."""
        found = self.runs(experiment, self.rules.ae_sweep.output.out)
        if self.experiments[experiment].pca:
            found.append(self.rules.ae_baselines.output.out.format(experiment=experiment))
        return found + self.pcaae_runs(experiment, self.rules.ae_pcaae.output.out)

    def gap_runs(self, experiment: str) -> list[tuple[str, str]]:
        """(model name, metadata file) of every run that serves every width, and the
        references."""
        pairs = self.named_runs(experiment, self.rules.ae_train.output.meta)
        return pairs + [
            ("pcaae", p) for p in self.pcaae_runs(experiment, self.rules.ae_pcaae.output.meta)
        ]

    def gap_meta(self, w) -> list[str]:
        return [p for _, p in self.gap_runs(w.experiment)]

    def pca_recon(self, experiment: str) -> list[str]:
        """PCA's reconstructions, where the experiment has PCA."""
        path = self.rules.ae_baselines.output.recon.format(experiment=experiment)
        return [path] if self.experiments[experiment].pca else []

    def first_seed_recon(self, w) -> list[str]:
        """The reconstructions of every trained variant's first seed (fixed<width> too) and of
        PCA: the same test images in each, a row each in one figure (no TD's file also holds
        its best training-free cut)."""
        seed = self.exp(w).seeds[0]
        return [
            self.rules.ae_sweep.output.recon.format(experiment=w.experiment, variant=v, seed=seed)
            for v in self.variants(w.experiment)
        ] + self.pca_recon(w.experiment)

    # ------------------------------------------------------------------ specs

    def train_spec(self, w) -> str:
        s = self.pipe.settings
        return dump(
            specs.train_spec(self.exp(w), w.variant, int(w.seed), s.device, s.deterministic)
        )

    def pcaae_spec(self, w) -> str:
        e, s = self.exp(w), self.pipe.settings
        model = pick(specs.AutoencoderModel, e, mode="none")
        epochs = {"epochs": e.pcaae_epochs} if e.pcaae_epochs else {}
        seed, device, deterministic = int(w.seed), s.device, s.deterministic
        train = pick(TrainSpec, e, epochs, seed=seed, device=device, deterministic=deterministic)
        return dump(specs.PCAAETrain(w.experiment, model, train, e.pcaae_widths))

    def rows(self, w) -> Rows:
        return Rows(w.experiment, rows_name(w.variant), int(w.seed))

    def controls(self, w) -> bool:
        """Whether the run is the reference (no TD), whose training-free cuts are controls."""
        return AUTOENCODER.role(rows_name(w.variant)) == "reference"

    def sweep_spec(self, w) -> str:
        e = self.exp(w)
        job = {"device": self.pipe.settings.device, "controls": self.controls(w)}
        return dump(pick(specs.AutoencoderSweep, e, rows=self.rows(w), width=e.latent, **job))

    def analysis_spec(self, w) -> str:
        job = {"device": self.pipe.settings.device, "controls": self.controls(w)}
        return dump(pick(specs.AutoencoderAnalysis, self.exp(w), rows=self.rows(w), **job))

    def baselines_spec(self, w) -> str:
        e = self.exp(w)
        return dump(pick(specs.AutoencoderBaselines, e, experiment=w.experiment, width=e.latent))

    def claims_spec(self, w) -> str:
        return dump(pick(specs.AutoencoderClaims, self.exp(w).claims, experiment=w.experiment))

    def select_models(self, w) -> list[str]:
        """The TD autoencoders (the claims' variant) at every seed."""
        path = self.rules.ae_train.output.model
        return expand(path, experiment=w.experiment, variant="td", seed=self.exp(w).seeds)

    def select_spec(self, w) -> str:
        e, device = self.exp(w), self.pipe.settings.device
        widths = tuple(range(1, e.latent))
        return dump(Select(w.experiment, "td", widths, device=device))

    def gap_spec(self, w) -> str:
        models = tuple(m for m, _ in self.gap_runs(w.experiment))
        return dump(Gap(w.experiment, models=models))

    def recon_title(self, w) -> str:
        seed = self.exp(w).seeds[0]
        title = (
            f"{w.experiment}: test images reconstructed from the first w latent units "
            f"(seed {seed} of each model)"
        )
        pca = ("pca",) * len(self.pca_recon(w.experiment))
        models = (*self.variants(w.experiment), *pca)
        return dump(specs.ReconstructionsFigure(title, models))

    def budget_spec(self, w) -> str:
        names = self.budget_series()[w.series]
        epochs = tuple(self.experiments[x].epochs for x in names)
        shrink = self.experiments[names[-1]].claims.budget_shrink
        runs = self._series_runs(names)
        return dump(specs.Budget(w.series, tuple(names), epochs, runs, shrink))

    def lr_spec(self, w) -> str:
        names = self.lr_series()[w.series]
        lrs = tuple(self.experiments[x].lr for x in names)
        c = self.experiments[names[0]].claims
        runs = self._series_runs(names)
        return dump(
            specs.LearningRates(w.series, tuple(names), lrs, runs, c.full_gap, c.fixed_ratio)
        )

    def budget_figure_spec(self, w) -> str:
        return dump(specs.BudgetFigure(w.series))

    def figure_spec(self, w) -> str:
        return dump(specs.SweepFigure(w.experiment))

    def gap_figure_spec(self, w) -> str:
        return dump(specs.GapFigure(w.experiment))

    def features_spec(self, w) -> str:
        return dump(specs.FeaturesFigure(w.kind))

    def dependence_variants_spec(self, w) -> str:
        return dump(specs.FeaturesFigure("dependence_variants"))

    # ------------------------------------------------------------------ budgets

    def series(self, setting: str) -> dict[str, list[str]]:
        """Experiments whose settings differ in ``setting`` alone (``epochs``: a budget
        series; ``lr``: a learning-rate series), by that setting, named after the first
        (``{series}``); none where every experiment differs in more."""
        groups: dict[str, list[str]] = {}
        for name, e in self.experiments.items():
            key = {k: v for k, v in asdict(e).items() if k != setting}
            groups.setdefault(repr(key), []).append(name)
        found = [
            sorted(g, key=lambda x: getattr(self.experiments[x], setting)) for g in groups.values()
        ]
        return {g[0]: g for g in found if len(g) > 1}

    def budget_series(self) -> dict[str, list[str]]:
        return self.series("epochs")

    def lr_series(self) -> dict[str, list[str]]:
        return self.series("lr")

    def _sweeps(self, names: list[str]) -> list[str]:
        return expand(self.rules.collect.output.out, experiment=names)

    def _meta(self, names: list[str]) -> list[str]:
        return [m for x in names for m in self.runs(x, self.rules.ae_train.output.meta)]

    def budget_sweeps(self, w) -> list[str]:
        return self._sweeps(self.budget_series()[w.series])

    def budget_meta(self, w) -> list[str]:
        return self._meta(self.budget_series()[w.series])

    def lr_sweeps(self, w) -> list[str]:
        return self._sweeps(self.lr_series()[w.series])

    def lr_meta(self, w) -> list[str]:
        return self._meta(self.lr_series()[w.series])

    def _series_runs(self, names: list[str]) -> tuple[str, ...]:
        """``experiment/variant/seed`` of each run, in :meth:`_meta`'s order (the same
        :meth:`runs`), so the job can name each metadata file."""
        return tuple(r for x in names for r in self.runs(x, "{experiment}/{variant}/{seed}"))

    # ------------------------------------------------------------------ targets

    def gap_experiments(self) -> list[str]:
        """Experiments with a gap study: variants beside TD and no TD, and the references the
        gap is measured against, an unconstrained variant (notd) and autoencoders trained at
        fixed widths (TD alone against them is in the claims)."""
        return [
            e
            for e in self.variant_experiments()
            if "notd" in (s := self.experiments[e]).variants and s.fixed_widths
        ]

    def variant_experiments(self) -> list[str]:
        """Experiments with variants beside TD and no TD (their dependence matrices get a figure
        of their own)."""
        return [e for e, s in self.experiments.items() if set(s.variants) - {"td", "notd"}]

    def claims(self) -> list[str]:
        """The claims file of every experiment (the preset's claims table reads them)."""
        return [
            *expand(self.rules.ae_claims.output.out, experiment=list(self.experiments)),
            *expand(self.rules.ae_budget.output.claims, series=list(self.budget_series())),
            *expand(self.rules.ae_lr.output.claims, series=list(self.lr_series())),
        ]

    def targets(self) -> list[str]:
        r, names = self.rules, list(self.experiments)
        return [
            *expand(r.ae_plot_sweep.output.png, experiment=names),
            *expand(
                r.ae_plot_features.output.png,
                experiment=names,
                kind=["importance", "dependence"],
            ),
            *expand(
                r.ae_plot_dependence_variants.output.png, experiment=self.variant_experiments()
            ),
            *expand(r.ae_plot_reconstructions.output.png, experiment=names),
            *expand(r.ae_claims.output.out, experiment=names),
            *expand(r.ae_select.output.out, experiment=names),
            *expand(r.ae_gap.output.out, experiment=self.gap_experiments()),
            *expand(r.ae_plot_gap.output.png, experiment=self.gap_experiments()),
            *expand(r.ae_plot_budget.output.png, series=list(self.budget_series())),
            *expand(r.ae_plot_lr.output.png, series=list(self.lr_series())),
            # Every model and per-run file: one deleted after a run (or by a failed job) is
            # rebuilt, and what reads it reruns; Snakemake does not rebuild a missing
            # intermediate file whose readers' outputs exist.
            *(m for x in names for m in self.runs(x, r.ae_train.output.model)),
            *(m for x in names for m in self.pcaae_runs(x, r.ae_pcaae.output.model)),
            *(f for x in names for f in self.sweeps(x)),
            *(f for x in names for f in self.runs(x, r.ae_sweep.output.recon)),
            *(f for x in names for f in self.pca_recon(x)),
            *expand(r.ae_table.output.order_out, experiment=names),
            *(
                f
                for x in names
                for k in ("importance", "dependence", "order")
                for f in self.analyses(x, k)
            ),
        ]
