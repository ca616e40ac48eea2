# tridrop: replication of "Triangular Dropout: Variable Network Width without Retraining"
# (Staley & Markowitz, arXiv 2205.01235). Run `snakemake` (default preset) or `dvc repro`.
import sys

from snakemake.utils import min_version, validate

from tridrop.config import coerce, load_schema, problems, read
from tridrop.dvc_record import record

min_version("9.0")

# Snakemake's loader says only "not valid JSON or YAML": ours names the line.
read("config/config.yaml")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# Our check first: it lists every problem with the key, the value and what is allowed.
SCHEMA = "workflow/schemas/config.schema.yaml"
# PyYAML reads `1e-3` as a string, nested --config overrides arrive as strings: numbers here.
for _note in coerce(config, load_schema(SCHEMA)):
    print(_note, file=sys.stderr)
if config_problems := problems(config, load_schema(SCHEMA)):
    raise ValueError("invalid configuration:\n  " + "\n  ".join(config_problems))
validate(config, SCHEMA)


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"


wildcard_constraints:
    experiment=one_of([*AUTOENCODERS, *HEADS]),
    variant=r"[a-z][a-z0-9_]*",
    seed=r"\d+",
    split=r"train|val",
    dataset=r"[a-z][a-z0-9_]*",


include: "workflow/rules/data.smk"
include: "workflow/rules/autoencoder.smk"
include: "workflow/rules/head.smk"
include: "workflow/rules/results.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/targets.smk"


rule all:
    default_target: True
    input:
        autoencoder_targets(),
        head_targets(),
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
