# tridrop: replication of "Triangular Dropout: Variable Network Width without Retraining"
# (Staley & Markowitz, arXiv 2205.01235). Run `snakemake` (default preset) or `dvc repro`.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/autoencoder.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/claims.smk"


rule all:
    default_target: True
    input:
        all_outputs(PRESET),
