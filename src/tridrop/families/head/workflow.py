"""What the classifier-head rules (``workflow/rules/head.smk``) ask of the config: each job's
spec, its inputs and the family's targets. Plain Python, unit-tested without Snakemake.

Each method takes Snakemake's wildcards ``w`` (``w.experiment``, ``w.variant``, ``w.seed``,
``w.split``); paths come from the rules' own outputs, so each is written once.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from tridrop.families.head import specs
from tridrop.families.head.tables import PROBE
from tridrop.pipeline import Wing, expand
from tridrop.registry import HEAD
from tridrop.specs import Gap, Rows, Select, TrainSpec, dump, pick, rows_name

# The stand-in datasets' classes: digits and the MNIST-format ones (``tridrop.data.CLASSES``).
STAND_IN_CLASSES = 10


class Workflow(Wing):
    """The head experiments of the chosen preset, as the rules see them."""

    family = HEAD

    # ------------------------------------------------------------------ inputs

    def data(self, w) -> str:
        return self.pipe.stored_split(self.rules, self.exp(w).dataset)

    def imagenet_copy(self, w) -> list[str]:
        """Stop before any job when the ImageNet copy is missing: only targets that need it."""
        from tridrop.families.head.imagenet import ImageNetMissing, check

        s = self.exp(w).imagenet
        try:
            check(s.root, s.layout, s.max_classes)
        except ImageNetMissing as err:
            key = f"presets.{self.pipe.preset}.{HEAD.section}.{w.experiment}.imagenet.root"
            raise ValueError(f"config: {key}: {err}") from None
        return []

    def backbone_model(self, w) -> str:
        return self.rules.head_backbone.output.model.format(experiment=w.experiment)

    def manifest(self, w) -> str:
        return self.rules.head_check.output.out.format(experiment=w.experiment)

    def cache_input(self, w) -> dict[str, str]:
        """ImageNet: its checked manifest; else the stored split (and a trained backbone)."""
        code = self.pipe.code(HEAD, "cache")
        if self.exp(w).dataset == "imagenet":
            return {"manifest": self.manifest(w), "code": code}
        found = {"data": self.data(w), "code": code}
        if self.exp(w).backbone is not None:
            found["backbone"] = self.backbone_model(w)
        return found

    def pretrained_input(self, w) -> dict[str, str]:
        code = self.pipe.code(HEAD, "pretrained")
        if self.exp(w).reference == "backbone":
            return {"backbone": self.backbone_model(w), "code": code}
        return {"manifest": self.manifest(w), "code": code}

    def reference(self, w) -> str:
        """The unconstrained head: VGG19's own (pretrained), the head of the backbone trained
        here (backbone), or one trained without TD on the cache (train, seeded)."""
        e = self.exp(w)
        if e.reference in ("pretrained", "backbone"):
            return self.rules.head_pretrained.output.model.format(experiment=w.experiment)
        return self.rules.head_train.output.model.format(
            experiment=w.experiment, variant="notd", seed=e.reference_seed
        )

    def init(self, w) -> str | list:
        return self.reference(w) if self.model(w).init == "reference" else []

    def params(self, w) -> list[str]:
        """Parameter counts of every run and of the baselines (the accuracy table's x axis)."""
        return [
            *self.runs(w.experiment, self.rules.head_sweep.output.params),
            self.rules.head_baselines.output.params.format(experiment=w.experiment),
            *self.per_seed(w.experiment, self.rules.head_probe.output.params),
            *self.finetuned(w.experiment, self.rules.head_finetune.output.params),
        ]

    def sweeps(self, experiment: str) -> list[str]:
        return [
            *self.runs(experiment, self.rules.head_sweep.output.out),
            self.rules.head_baselines.output.out.format(experiment=experiment),
            *self.per_seed(experiment, self.rules.head_probe.output.out),
            *self.finetuned(experiment, self.rules.head_finetune.output.out),
        ]

    def per_seed(self, experiment: str, path: str) -> list[str]:
        """File ``path`` of a job run once per seed (the linear probe, the fine-tuned cuts)."""
        return expand(path, experiment=experiment, seed=self.experiments[experiment].seeds)

    def finetuned(self, experiment: str, path: str) -> list[str]:
        """File ``path`` of the fine-tuned cuts at every seed (none with finetune_epochs 0)."""
        tuned = self.experiments[experiment].finetune_epochs
        return self.per_seed(experiment, path) if tuned else []

    # ------------------------------------------------------------------ resources

    def cache_threads(self, w) -> int:
        return self.pipe.cores() if self.exp(w).dataset == "imagenet" else 1

    def cache_gpus(self, w) -> int:
        return 1 if self.pipe.use_gpu and self.exp(w).dataset == "imagenet" else 0

    def processes(self, w) -> int:
        return self.exp(w).processes

    def train_gpus(self, w) -> int:
        return self.processes(w) if self.pipe.use_gpu else 0

    def launcher(self, w) -> str:
        """Several processes: data-parallel training (DDP) launched by torchrun."""
        n = self.exp(w).processes
        return f"torchrun --standalone --nproc-per-node {n} --no-python " if n > 1 else ""

    # ------------------------------------------------------------------ specs

    def model(self, w) -> specs.HeadModel:
        return specs.head_model(self.exp(w), w.variant)

    def training(self, w) -> TrainSpec:
        """The experiment's training settings at seed ``w.seed`` (heads and the probe alike)."""
        s = self.pipe.settings
        return pick(
            TrainSpec, self.exp(w), seed=int(w.seed), device=s.device, deterministic=s.deterministic
        )

    def train_spec(self, w) -> str:
        s = self.pipe.settings
        fixed = {"seed": int(w.seed), "device": s.device, "deterministic": s.deterministic}
        return dump(specs.train_spec(self.exp(w), w.variant, **fixed))

    def backbone_spec(self, w) -> str:
        e, s = self.exp(w), self.pipe.settings
        b = e.backbone
        model = pick(specs.BackboneModel, b, hidden=e.hidden)
        train = pick(TrainSpec, b, device=s.device, deterministic=s.deterministic)
        return dump(specs.BackboneTrain(model, train))

    def imagenet_spec(self, w) -> str:
        return dump(self.exp(w).imagenet)

    def cache_spec(self, w) -> str:
        e = self.exp(w)
        return dump(
            specs.FeatureCacheSpec(e.dataset, w.split, e.imagenet, self.pipe.settings.device)
        )

    def pretrained_spec(self, w) -> str:
        e = self.exp(w)
        i = e.imagenet or specs.ImageNetSpec()
        classes = i.max_classes or 1000
        return dump(specs.PretrainedHead(i.weights, classes, e.hidden))

    def sweep_spec(self, w) -> str:
        e = self.exp(w)
        rows = Rows(w.experiment, rows_name(w.variant), int(w.seed))
        return dump(specs.HeadSweep(rows, e.hidden, tuple(e.widths), self.pipe.settings.device))

    def probe_spec(self, w) -> str:
        rows = Rows(w.experiment, PROBE, int(w.seed))
        return dump(specs.HeadProbe(rows, self.exp(w).hidden, self.training(w)))

    def baselines_spec(self, w) -> str:
        e, device = self.exp(w), self.pipe.settings.device
        return dump(pick(specs.HeadBaselines, e, experiment=w.experiment, device=device))

    def table_spec(self, w) -> str:
        return dump(specs.TableSpec(w.experiment))

    def classes(self, w) -> int:
        """The experiment's class count: ImageNet's (or its first max_classes), else 10."""
        e = self.exp(w)
        if e.dataset == "imagenet":
            return (e.imagenet or specs.ImageNetSpec()).max_classes or 1000
        return STAND_IN_CLASSES

    def claims_spec(self, w) -> str:
        return dump(specs.HeadClaimsJob(self.exp(w).claims, self.classes(w)))

    def grid_models(self, w) -> list[str]:
        """The heads of the claims' variant at every seed (cut on the (w1, w2) grid)."""
        e = self.exp(w)
        return expand(
            self.rules.head_train.output.model,
            experiment=w.experiment,
            variant=e.claims.model,
            seed=e.seeds,
        )

    def paired_others(self, w) -> list[str]:
        """Every other trained head (variants and fixed widths, every seed): the trained
        controls of the image-by-image tests."""
        e, reference = self.exp(w), self.reference(w)
        model = self.rules.head_train.output.model
        # Not the reference itself (reference train: notd at reference_seed), given apart.
        runs = self.runs(w.experiment, model)
        return [m for m in runs if f"/{e.claims.model}/seed" not in m and m != reference]

    def paired_spec(self, w) -> str:
        e = self.exp(w)
        device = self.pipe.settings.device
        return dump(
            specs.HeadPaired(w.experiment, e.claims.model, tuple(e.widths), e.rank_samples, device)
        )

    def has_notd(self, experiment: str) -> bool:
        return "notd" in self.experiments[experiment].variants

    def gap_meta(self, w) -> list[str]:
        return [p for _, p in self.named_runs(w.experiment, self.rules.head_train.output.meta)]

    def gap_spec(self, w) -> str:
        runs = self.named_runs(w.experiment, self.rules.head_train.output.meta)
        return dump(Gap(w.experiment, models=tuple(m for m, _ in runs)))

    def select_spec(self, w) -> str:
        e, device = self.exp(w), self.pipe.settings.device
        widths = tuple(x for x in e.widths if x < e.hidden)
        return dump(Select(w.experiment, e.claims.model, widths, device=device))

    def grid_spec(self, w) -> str:
        e = self.exp(w)
        device = self.pipe.settings.device
        return dump(specs.HeadGrid(w.experiment, e.claims.model, tuple(e.widths), device))

    def finetune_spec(self, w) -> str:
        e = self.exp(w)
        widths = tuple(x for x in e.widths if x < e.hidden)
        train = replace(self.training(w), epochs=e.finetune_epochs)
        return dump(specs.HeadFinetune(w.experiment, widths, train, e.rank_samples))

    def figure_spec(self, w) -> str:
        e = self.exp(w)
        classes = self.classes(w)
        triangle = tuple(
            rows_name(v) for v in e.variants if specs.head_model(e, v).mode == "triangle"
        )
        return dump(
            specs.HeadFigure(
                w.experiment, classes, e.hidden, e.batch_size, triangle, e.claims.budgets
            )
        )

    # ------------------------------------------------------------------ targets

    def claims(self) -> list[str]:
        """The claims file of every experiment (the preset's claims table reads them)."""
        return expand(self.rules.head_claims.output.out, experiment=list(self.experiments))

    def targets(self) -> list[str]:
        r, names = self.rules, list(self.experiments)
        return [
            *expand(r.head_table.output.out, experiment=names),
            *expand(r.head_plot_accuracy.output.png, experiment=names),
            *expand(r.head_claims.output.out, experiment=names),
            *expand(r.head_plot_grid.output.png, experiment=names),
            *expand(r.head_paired.output.out, experiment=names),
            # The gap report needs a no-TD head trained as the others (variant notd).
            *expand(r.head_gap.output.out, experiment=[x for x in names if self.has_notd(x)]),
            *expand(r.head_grid.output.out, experiment=names),
            *expand(r.head_select.output.out, experiment=names),
            # Every model and per-run file: one deleted after a run (or by a failed job) is
            # rebuilt, and what reads it reruns.
            *(m for x in names for m in self.runs(x, r.head_train.output.model)),
            *(f for x in names for f in self.sweeps(x)),
            *(f for x in names for f in self.params(SimpleNamespace(experiment=x))),
        ]
