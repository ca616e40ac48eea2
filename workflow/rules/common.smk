# Shared by all rule files. The chosen preset, paths, the code each job depends on (the
# package sources it uses), and the helpers that build specs from the config.
import shlex
import shutil

from tridrop import specs
from tridrop.deps import sources

# The preset is a global: every path below is under results/<preset>/.
PRESET = config["preset"]
AUTOENCODERS = config["presets"][PRESET]["autoencoders"]
HEADS = config["presets"][PRESET].get("heads", {})
FIGURES = config["presets"][PRESET]["figures"]

# Training rules ask for a GPU only where one will be used, so CPU runs stay parallel.
USE_GPU = config["device"] == "cuda" or (
    config["device"] == "auto" and shutil.which("nvidia-smi") is not None
)
# Software environment of every rule for `--sdm conda` (path relative to the rule files).
CONDA_ENV = "../../envs/gpu.yaml" if USE_GPU else "../../envs/cpu.yaml"


def out(path):
    return f"results/{PRESET}/{path}"


def logs(path):
    return f"logs/{PRESET}/{path}"


def work(path):
    """Outside the declared outputs (checkpoints, partial caches), so a killed job resumes."""
    return f"work/{PRESET}/{path}"


def code(job):
    """The package sources a job uses, e.g. code("autoencoder:train")."""
    return sources(f"tridrop.jobs.{job}")


def option(flag, value):
    """A quoted command-line option, or nothing for an absent (empty) value."""
    return f"{flag} {shlex.quote(str(value))}" if value else ""


def one_of(names):
    """A wildcard pattern matching exactly these experiment names."""
    return "|".join(names) or "(?!)"


AE = one_of(AUTOENCODERS)
HEAD = one_of(HEADS)
# Variants trained by ae_train (PCAAE's runs folder belongs to ae_pcaae).
TRAINED = r"(?!pcaae/)[a-z][a-z0-9_]*"


def train_spec(section, seed, *more):
    """Training settings of a run: the experiment's, then those of `more` sections."""
    return specs.pick(
        specs.TrainSpec,
        section,
        *more,
        seed=int(seed),
        device=config["device"],
        deterministic=config["deterministic"],
    )


def rows(w):
    return specs.Rows(w.experiment, specs.rows_name(w.variant), int(w.seed))


def variants(section):
    """The trained variants of an experiment: the configured ones and fixed<width> baselines."""
    return [
        *section["variants"],
        *(f"fixed{x}" for x in section.get("fixed_widths", [])),
    ]


def runs(section, experiment, path):
    """File `path` of every variant and seed of one experiment (a rule's output template)."""
    return expand(
        path, experiment=experiment, variant=variants(section), seed=section["seeds"]
    )
