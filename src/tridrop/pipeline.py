"""What the rule files share: the preset's paths, the code a job depends on, and each job's shell
command, made from its signature (no hand-written flag lists).

A job is ``verb(spec, *, <paths>)`` in a jobs module; each path parameter is annotated
:data:`~tridrop.files.In`, :data:`~tridrop.files.Out` or :data:`~tridrop.files.Work` (all
``Path``), which says where its rule holds it: ``input``, ``output`` or ``params`` (a work path
outside the declared outputs). An optional input (``In | None``) comes from a ``params`` entry
of the same name that holds the whole option (:meth:`Pipeline.option`), or nothing.
"""

from __future__ import annotations

import ast
import re
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from itertools import product
from pathlib import Path
from typing import Any

from tridrop.config import Settings, has_data
from tridrop.deps import _parse, sources
from tridrop.registry import Family
from tridrop.specs import Aggregate, Environment, SplitSpec, as_config, dump, pick, rows_name

# Where a rule holds each kind of path parameter.
WHERE = {"In": "input", "Out": "output", "Work": "params"}


@dataclass(frozen=True)
class Split:
    """What the prepare_data job of one dataset gets."""

    spec: str
    raw_files: list[str]
    raw: str
    contents: str = ""  # a local copy's fingerprint (tridrop.data.fingerprint)


@dataclass(frozen=True)
class Pipeline:
    """The checked settings of the chosen preset and the paths of its files."""

    settings: Settings
    use_gpu: bool
    # Snakemake's total cores, read when a job needs them: under a cluster executor without
    # --cores, `workflow.cores` raises, and only ImageNet feature caching asks for it.
    cores: Callable[[], int] = lambda: 1
    rules: Any = None  # Snakemake's rules namespace: earlier rules' outputs, by rule name
    wings: dict = field(default_factory=dict)  # each family's workflow helper, by name

    @classmethod
    def of(
        cls, settings: Settings, cores: Callable[[], int] = lambda: 1, rules: Any = None
    ) -> Pipeline:
        # Training rules ask for a GPU only where one will be used, so CPU runs stay parallel.
        gpu = settings.device == "cuda" or (
            settings.device == "auto" and shutil.which("nvidia-smi") is not None
        )
        return cls(settings, gpu, cores, rules)

    @property
    def preset(self) -> str:
        return self.settings.preset

    def out(self, path: str) -> str:
        return f"results/{self.preset}/{path}"

    def logs(self, path: str) -> str:
        return f"logs/{self.preset}/{path}"

    def work(self, path: str) -> str:
        """Outside the declared outputs (checkpoints, partial caches), so a killed job resumes."""
        return f"work/{self.preset}/{path}"

    @property
    def conda(self) -> str:
        """Software environment of every rule for ``--sdm conda`` (relative to the rule files)."""
        return "../../envs/gpu.yaml" if self.use_gpu else "../../envs/cpu.yaml"

    @staticmethod
    def code(family: Family, verb: str) -> list[str]:
        """The package sources a family's job uses (a rule's inputs)."""
        return code(f"{family.package}.jobs", verb)

    @staticmethod
    def command(family: Family, verb: str, prefix: str = "OMP_NUM_THREADS={threads} ") -> str:
        """The shell command of a family's job, from its signature."""
        return command(family.cli, f"{family.package}.jobs", verb, prefix)

    @staticmethod
    def option(flag: str, value: object) -> str:
        """A quoted command-line option, or nothing for an absent (empty) value."""
        return f"{flag} {shlex.quote(str(value))}" if value else ""

    def split_spec(self, w) -> str:
        return self.split(self.rules, w.dataset).spec

    def raw_files(self, w) -> list[str]:
        return self.split(self.rules, w.dataset).raw_files

    def raw_contents(self, w) -> str:
        """A local copy's fingerprint, as a param: Snakemake compares file times only, so data
        replaced by other data with an older time would go unnoticed; a changed param reruns."""
        return self.split(self.rules, w.dataset).contents

    def raw_option(self, w) -> str:
        return self.option("--raw", self.split(self.rules, w.dataset).raw)

    def sweeps(self, w) -> list[str]:
        """An experiment's sweep files, from its family's wing (what collect reads)."""
        return self.wings[self.settings.family_of(w.experiment).name].sweeps(w.experiment)

    def claims(self, w=None) -> list[str]:
        """Every experiment's claims file (the preset's claims table)."""
        return [f for wing in self.wings.values() for f in wing.claims()]

    def split(self, rules, dataset: str) -> Split:
        """How dataset's split is made: its spec, the raw files it reads (none for digits; the
        user's files for a local copy, so an edit in place reruns; else the download rule's
        folder) and the ``--raw`` option."""
        from tridrop.data import raw_files, uses_local

        exp = next(
            e for e in self.settings.all().values() if getattr(e, "dataset", None) == dataset
        )
        spec = dump(pick(SplitSpec, exp))
        if dataset == "digits":
            return Split(spec, [], "")
        if uses_local(dataset, exp.source, exp.path, exp.subset):
            files = [str(f) for f in raw_files(dataset, exp.path)]
            return Split(spec, files, exp.path, _fingerprint(tuple(files)))
        folder = rules.download_data.output.root.format(dataset=dataset)
        return Split(spec, [folder], folder)

    def plot_files(self) -> list[str]:
        """Mean-by-width files per experiment and metric (`dvc plots show` reads the folder)."""
        s = self.settings
        return [
            self.plot_template().format(experiment=e, metric=m)
            for name, exps in s.experiments.items()
            for e in exps
            for m in s.families[name].metrics
        ]

    def plot_template(self, w=None) -> str:
        """The plot files' path; the aggregate job fills it in."""
        return self.out("plots/{experiment}_{metric}.csv")

    def aggregate_spec(self) -> str:
        """Headline widths: those of every experiment that lists some (autoencoders)."""
        widths = {
            x for e in self.settings.all().values() for x in getattr(e, "headline_widths", ())
        }
        return dump(Aggregate(tuple(sorted(widths))))

    def environment_spec(self) -> str:
        """The run's resolved settings: the chosen preset with every default filled in."""
        s = self.settings
        resolved = {
            "preset": s.preset,
            "device": s.device,
            "deterministic": s.deterministic,
            **{
                s.families[f].section: {n: as_config(e) for n, e in exps.items()}
                for f, exps in s.experiments.items()
            },
            "figures": as_config(s.figures),
        }
        return dump(Environment(s.device, resolved))

    def clock_skew(self, now: float | None = None) -> str:
        """Why the run cannot start if an input lies in the future (a file from a machine whose
        clock is ahead, or ``touch -d``), else "": Snakemake would fail the jobs that read it
        and delete their outputs, and later runs would not notice them missing."""
        from tridrop.data import raw_files, uses_local
        from tridrop.files import ahead_of_clock

        local = [  # IDX files (a CelebA folder of images is not walked)
            f
            for e in self.settings.all().values()
            if has_data(e) and uses_local(e.dataset, e.source, e.path, e.subset)
            for f in raw_files(e.dataset, e.path)
            if f.is_file()
        ]
        package = Path(__file__).parent
        now = time.time() if now is None else now
        found = ahead_of_clock([self.out(""), package, *local], now)
        if not found:
            return ""
        path, ahead = max(found, key=lambda x: x[1])
        return (
            f"{len(found)} input file(s) modified in the future, e.g. {path} "
            f"({ahead / 3600:.1f} h ahead of this machine's clock): nothing was run. Check the "
            "clock, or give them the current time (`touch` them), then run again."
        )

    def mask_spec(self) -> str:
        return dump(self.settings.figures)

    @staticmethod
    def stored_split(rules, dataset: str) -> str:
        """The stored split of a dataset (the output of prepare_data)."""
        return rules.prepare_data.output.out.format(dataset=dataset)

    @staticmethod
    def one_of(names) -> str:
        """A wildcard pattern matching exactly these names."""
        return "|".join(names) or "(?!)"


class Wing:
    """What every family's workflow helper shares: its experiments in the chosen preset, the
    rules' namespace, and the runs (every trained variant and seed) of an experiment."""

    family: Family  # set by each wing's subclass

    def __init__(self, pipe: Pipeline, rules: Any) -> None:
        self.pipe, self.rules = pipe, rules
        self.experiments = pipe.settings.of(self.family.name)
        self.pattern = pipe.one_of(self.experiments)  # the rules' `experiment` wildcard

    def exp(self, w) -> Any:
        return self.experiments[w.experiment]

    def variants(self, experiment: str) -> list[str]:
        """The trained variants: the configured ones and the fixed<width> baselines."""
        e = self.experiments[experiment]
        return [*e.variants, *(f"fixed{x}" for x in e.fixed_widths)]

    def runs(self, experiment: str, path: str) -> list[str]:
        """File ``path`` (a rule's output) of every trained variant and seed."""
        e = self.experiments[experiment]
        return expand(path, experiment=experiment, variant=self.variants(experiment), seed=e.seeds)

    def named_runs(self, experiment: str, path: str) -> list[tuple[str, str]]:
        """(result-row name, file ``path``) of every trained variant and seed (the gap
        report's runs: it names each metadata file's model)."""
        seeds = self.experiments[experiment].seeds
        return [
            (rows_name(v), path.format(experiment=experiment, variant=v, seed=x))
            for v in self.variants(experiment)
            for x in seeds
        ]


@cache
def _fingerprint(files: tuple[str, ...]) -> str:
    from tridrop.data import fingerprint

    return fingerprint(files)


def expand(path: str, **values) -> list[str]:
    """``path`` filled in with every combination of ``values`` (lists), as Snakemake's expand."""
    keys = list(values)
    lists = [v if isinstance(v, list | tuple) else [v] for v in values.values()]
    return [path.format(**dict(zip(keys, combo, strict=True))) for combo in product(*lists)]


def code(module: str, verb: str) -> list[str]:
    """The package sources job ``verb`` of ``module`` uses (a rule's inputs)."""
    return sources(f"{module}:{verb}")


def command(cli: str, module: str, verb: str, prefix: str = "OMP_NUM_THREADS={threads} ") -> str:
    """The shell command of job ``verb`` (``tridrop <cli> <verb>``) from its signature."""
    parts = [f"{prefix}tridrop {cli} {verb} --spec {{params.spec:q}}"]
    for name, kind, optional in signature(module, verb):
        flag = "--" + name.replace("_", "-")
        if optional and kind == "In":
            parts.append(f"{{params.{name}}}")
        else:
            parts.append(f"{flag} {{{WHERE[kind]}.{name}:q}}")
    return " ".join(parts) + " 2> {log:q}"


@cache
def signature(module: str, verb: str) -> tuple[tuple[str, str, bool], ...]:
    """``(name, kind, optional)`` of each path parameter of the job, read from its source."""
    tree = _parse(module)
    job = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == verb), None)
    if job is None:
        raise ValueError(f"no job {verb!r} in {module}")
    out = []
    for arg in job.args.kwonlyargs:
        text = ast.unparse(arg.annotation) if arg.annotation else ""
        kind = re.match(r"(?:list\[)?(In|Out|Work)\b", text)
        if kind is None:
            continue  # a flag (bool) or a string, not a path the rule gives
        out.append((arg.arg, kind.group(1), "None" in text))
    return tuple(out)
