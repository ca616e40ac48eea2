# tridrop: replication of "Triangular Dropout: Variable Network Width without Retraining"
# (Staley & Markowitz, arXiv 2205.01235). Run `snakemake` (default preset) or `dvc repro`.
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

from tridrop.config import coerce, filled, read, resolve
from tridrop.dvc_record import record
from tridrop.slurm import problem as slurm_problem

min_version("9.0")

# Snakemake's loader says only "not valid JSON or YAML": ours names the line.
read("config/config.yaml")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# The config is checked by building the specs it implies (tridrop.config): every problem is
# listed with its dotted key, the value and what is allowed, before any job. PyYAML reads
# `1e-3` as a string, nested --config overrides arrive as strings: numbers here.
for _note in coerce(config):
    print(_note, file=sys.stderr)
SETTINGS = resolve(config)
for (
    _note
) in SETTINGS.notes():  # not errors: what a researcher should know before the run
    print(_note, file=sys.stderr)
# Captions and the report read the chosen preset with its defaults filled in.
config.update(filled(config, SETTINGS))


include: "workflow/rules/common.smk"


# An input dated in the future would fail the jobs that read it ("clock skew") after they ran,
# and Snakemake would delete their outputs: refuse before any job, dry runs included.
_skew = PIPE.clock_skew()
if _skew:
    raise WorkflowError(_skew)


wildcard_constraints:
    experiment=PIPE.one_of(EXPERIMENTS),
    variant=r"[a-z][a-z0-9_]*",
    seed=r"\d+",
    dataset=r"[a-z][a-z0-9_]*",


include: "workflow/rules/data.smk"
include: "workflow/rules/results.smk"


# One rule file per experiment family (tridrop.families: the registry).
for _family in SETTINGS.families.values():

    include: _family.rules


rule all:
    default_target: True
    input:
        [WINGS[name].targets() for name in WINGS],
        rules.aggregate.output,
        rules.claims.output,
        rules.environment.output,
        rules.plot_mask.output,


# After a complete run, DVC records the outputs (dvc.lock and its cache): `dvc exp run` and
# `dvc checkout` delete or revert stage outputs that dvc.lock does not know (see dvc_record.py).
onsuccess:
    _dag = workflow.dag_settings
    record(
        ".",
        PRESET,
        _dag.targets,
        partial=bool(
            _dag.until or _dag.omit_from or _dag.batch or _dag.allowed_rules
        ),
    )


# A Slurm run whose job ends the executor cannot see would wait forever: it stops here, before
# the first submission, with the reason (tridrop.slurm).
onstart:
    if workflow.executor_plugin.name == "slurm":
        _why = slurm_problem(
            workflow.executor_settings.status_command,
            workflow.executor_settings.init_seconds_before_status_checks,
        )
        if _why:
            raise WorkflowError(_why)
