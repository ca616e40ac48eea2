"""Code dependencies of jobs: what an edit reruns (read from imports, nothing is run)."""

from tridrop.deps import sources


def names(job: str) -> set[str]:
    return {s.removeprefix("src/tridrop/") for s in sources(f"tridrop.jobs.{job}")}


def test_training_depends_on_the_method_and_the_loop_not_on_figures_or_claims():
    train = names("autoencoder:train")
    assert {"dropout.py", "train.py", "models/autoencoder.py", "specs.py"} <= train
    assert not {"claims.py", "figures/__init__.py", "readme.py", "analysis.py"} & train


def test_a_figure_job_depends_on_its_figure_module_only():
    sweep = names("plot:sweep")
    assert {"figures/sweep.py", "figures/__init__.py"} <= sweep
    assert not {"figures/mask.py", "dropout.py", "train.py"} & sweep
    assert "dropout.py" in names("plot:mask")  # the mask figure draws the method's mask


def test_no_job_depends_on_the_readme_or_the_cli():
    for job in ("autoencoder:train", "head:train", "results:aggregate", "plot:accuracy"):
        assert not {"readme.py", "cli.py"} & names(job)
    assert "readme.py" in names("results:readme")


def test_a_local_variable_does_not_pull_in_a_job_of_the_same_name():
    assert "imagenet.py" not in names("head:train")  # `train` has no ImageNet code
    assert "imagenet.py" in names("head:cache")
