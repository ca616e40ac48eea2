"""The policy family end to end on its tiny configuration (tests/tiny_policy.yaml): a PPO
expert on CartPole, students with and without TD and at one fixed width, sweeps, the no-TD
cuts, the complexity table, claims and figure, through Snakemake."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT, run
from tridrop.claims import COLUMNS, VERDICTS

pytestmark = pytest.mark.slow
pytest.importorskip("gymnasium", reason="the policy family needs gymnasium (pipeline extra)")


def test_tiny_policy_preset_end_to_end(workflow_copy: Path):
    cfg_path = workflow_copy / "config/config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    tiny = yaml.safe_load((ROOT / "tests/tiny_policy.yaml").read_text())
    cfg["presets"].update(tiny["presets"])
    cfg["preset"] = tiny["preset"]
    cfg_path.write_text(yaml.safe_dump(cfg))
    run(["snakemake", "--cores", "2"], workflow_copy)
    res = workflow_copy / "results/tiny_policy"

    sweeps = pd.read_csv(res / "sweeps.csv")
    assert list(sweeps.columns) == ["experiment", "model", "seed", "width", "metric", "value"]
    assert set(sweeps["model"]) == {"td", "notd", "fixed", "notd_cut", "notd_sorted"}
    assert set(sweeps["metric"]) == {"return"}
    td = sweeps[sweeps["model"] == "td"]
    assert sorted(set(td["width"])) == [1, 2, 4, 8] and set(td["seed"]) == {0}
    assert set(sweeps.loc[sweeps["model"] == "notd", "width"]) == {8}  # full width only
    assert set(sweeps.loc[sweeps["model"] == "fixed", "width"]) == {2}
    episodes = pd.read_csv(res / "runs/cartpole/td/seed0/episodes.csv")
    assert len(episodes) == 4 * 4  # 4 widths x 4 episodes

    table = pd.read_csv(res / "tables/cartpole_complexity.csv")
    assert set(table["level"]) == {0.9, 0.95}
    assert {"td", "fixed", "notd_cut", "notd_sorted"} <= set(table["model"])
    claims = pd.read_csv(res / "claims.csv")
    assert list(claims.columns) == COLUMNS and set(claims["verdict"]) <= set(VERDICTS)
    assert len(claims) == 3 and set(claims["experiment"]) == {"cartpole"}
    for fig in ("return_vs_width", "trajectory"):
        assert (res / f"figures/cartpole_{fig}.png").stat().st_size > 1000
    assert "Nothing to be done" in run(["snakemake", "-n"], workflow_copy).stdout

    # Part B: a variant trained by PPO with TD in the actor is planned as one more student
    # (its spec carries rl and PPO's settings, seeded by the run), swept and tabled as any.
    cartpole = cfg["presets"]["tiny_policy"]["policies"]["cartpole"]
    cartpole["variants"] = {"td": {"mode": "triangle"}, "notd": {"mode": "none"},
                            "ppo_td": {"mode": "random", "rl": True}}  # fmt: skip
    cfg_path.write_text(yaml.safe_dump(cfg))
    dry = run(["snakemake", "-n", "-p"], workflow_copy).stdout
    assert "runs/cartpole/ppo_td/seed0/model.pt" in dry and '"rl":true' in dry
    assert (
        '"expert_seed":0' in dry and "work/tiny_policy/cartpole/ppo_td/seed0/checkpoint.pt" in dry
    )
    assert "tables/cartpole_complexity.csv" in dry  # the table reads its episodes too
