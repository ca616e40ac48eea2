#!/usr/bin/env bash
# Snakemake (--sdm conda) runs this once in the new environment, from the workflow directory
# (the repository root): install the tridrop package itself, editable, so that rules find the
# `tridrop` command and code changes need no new environment. Its dependencies all come from
# conda-forge (envs/cpu.yaml), hence --no-deps.
set -euo pipefail
python -m pip install --no-deps --no-build-isolation -e .
