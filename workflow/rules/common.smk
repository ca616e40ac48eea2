# Shared by all rule files: the checked preset, its paths, and one workflow helper per family
# (tridrop.families.<family>.workflow: specs, inputs and targets as tested Python).
from tridrop.pipeline import Pipeline, code, command

PIPE = Pipeline.of(SETTINGS, lambda: workflow.cores, rules)
PRESET = PIPE.preset
out, logs, work, option = PIPE.out, PIPE.logs, PIPE.work, PIPE.option
CONDA_ENV = PIPE.conda
NOTHING = "{}"  # the spec of a job without settings
# The families' workflow helpers, by family name (the registry's order).
WINGS = PIPE.wings
WINGS.update(
    {
        name: family.module("workflow").Workflow(PIPE, rules)
        for name, family in SETTINGS.families.items()
    }
)
EXPERIMENTS = SETTINGS.all()
