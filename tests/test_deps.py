"""Code dependencies of jobs: what an edit reruns (read from imports, nothing is run)."""

from tridrop.deps import sources

AE, HEAD = "families.autoencoder", "families.head"


def names(job: str) -> set[str]:
    return {s.removeprefix("src/tridrop/") for s in sources(f"tridrop.{job}")}


def test_training_depends_on_the_method_and_the_loop_not_on_figures_or_claims():
    train = names(f"{AE}.jobs:train")
    assert {"dropout.py", "train.py", f"{AE.replace('.', '/')}/models.py", "specs.py"} <= train
    others = {"claims.py", "figures/__init__.py", "readme.py", "registry.py"}
    assert not others & train
    assert not {f"{AE.replace('.', '/')}/{m}.py" for m in ("analysis", "claims", "gap")} & train


def test_a_figure_job_depends_on_its_figure_module_only():
    sweep = names(f"{AE}.jobs:plot_sweep")
    assert {"families/autoencoder/figures/sweep.py", "figures/__init__.py"} <= sweep
    assert not {"figures/mask.py", "dropout.py", "train.py"} & sweep
    assert "dropout.py" in names("jobs.plot:mask")  # the mask figure draws the method's mask


def test_no_job_depends_on_the_readme_or_the_cli():
    for job in (f"{AE}.jobs:train", f"{HEAD}.jobs:train", "jobs.results:aggregate"):
        assert not {"readme.py", "cli.py"} & names(job)
    assert "readme.py" in names("jobs.results:readme")


def test_no_wing_imports_another():
    """A family's code never reaches into another family's wing."""
    assert not {s for s in names(f"{AE}.jobs:gap") if s.startswith("families/head")}
    assert not {s for s in names(f"{HEAD}.jobs:baselines") if s.startswith("families/autoencoder")}


def test_a_local_variable_does_not_pull_in_a_job_of_the_same_name():
    assert "families/head/imagenet.py" not in names(f"{HEAD}.jobs:train")  # no ImageNet code
    assert "families/head/imagenet.py" in names(f"{HEAD}.jobs:cache")
