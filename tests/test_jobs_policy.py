"""The policy family's pieces: the narrowed student acts as the masked one, DAgger labels the
states the student visits with the expert's actions, sweep rows have the shared columns, the
complexity table's smallest widths, the claims' rows, and one-line errors for bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tridrop.claims import COLUMNS as CLAIM_COLUMNS
from tridrop.claims import VERDICTS
from tridrop.evaluation import COLUMNS
from tridrop.extract import narrow
from tridrop.files import load_model_file, save_model
from tridrop.specs import Rows, Select, SpecError, TrainSpec, load

pytest.importorskip("gymnasium", reason="the policy family needs gymnasium (pipeline extra)")

from tridrop.families.policy import analysis, jobs  # noqa: E402
from tridrop.families.policy.models import greedy, sort_units, student  # noqa: E402
from tridrop.families.policy.rl import Agent, EnvInfo, collect, run_episodes  # noqa: E402
from tridrop.families.policy.specs import (  # noqa: E402
    EXPERIMENT,
    Dagger,
    EnvSpec,
    ExpertJob,
    PolicyAggregate,
    PolicyBaselines,
    PolicyClaims,
    PolicyComplexity,
    PolicySweep,
    PolicyTrajectory,
    PPOSpec,
    StudentModel,
    StudentTrain,
)

CARTPOLE = EnvSpec("CartPole-v1", max_steps=30, eval_episodes=3)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """A tiny expert (two PPO iterations) and a no-TD and a TD student distilled from it."""
    t = tmp_path_factory.mktemp("policy")
    f = {"expert": t / "expert.pt", "td": t / "td.pt", "notd": t / "notd.pt"}
    ppo = PPOSpec(timesteps=256, envs=2, rollout=64, ppo_epochs=1)
    jobs.expert(ExpertJob(CARTPOLE, ppo), model=f["expert"], checkpoint=t / "ckpt.pt")
    for mode in ("triangle", "none"):
        spec = StudentTrain(
            StudentModel(hidden=8, mode=mode),
            TrainSpec(epochs=1, batch_size=32, device="cpu"),
            Dagger(bc_states=64, dagger_rounds=1, dagger_states=32),
            CARTPOLE,
        )
        jobs.train(spec, expert=f["expert"], model=f["td" if mode == "triangle" else "notd"])
    return f


def test_the_expert_records_its_return_and_a_random_policys(made):
    meta = json.loads(made["expert"].with_suffix(".json").read_text())
    assert len(meta["expert_returns"]) == len(meta["random_returns"]) == 3
    assert meta["expert_return"] == pytest.approx(np.mean(meta["expert_returns"]))
    assert meta["arch"]["kind"] == "policy_expert" and len(meta["history"]) == 2


def test_the_narrowed_student_acts_exactly_as_the_masked_one():
    info = EnvInfo("CartPole-v1", 4, 2, True)
    torch.manual_seed(0)
    net = student(info, StudentModel(hidden=16)).eval()
    obs = torch.randn(256, 4)
    for w in (1, 3, 8, 16):
        for td in net.td_layers():
            td.set_width(w)
        masked = net(obs)
        dense = narrow(net, w)
        assert torch.allclose(dense(obs), masked, atol=1e-6)
        assert torch.equal(greedy(dense, True)(obs), masked.argmax(-1))
    net.set_width(None)


def test_sorting_units_keeps_the_function_and_puts_important_units_first():
    info = EnvInfo("Pendulum-v1", 3, 1, False, (-2.0,), (2.0,))
    torch.manual_seed(1)
    net = student(info, StudentModel(hidden=12, mode="none")).eval()
    states = torch.randn(64, 3)
    ranked = sort_units(net, states)
    assert torch.allclose(ranked(states), net(states), atol=1e-5)
    l1, l2 = ranked[0], ranked[3]
    score = torch.relu(l1(states)).abs().mean(0) * l2.weight.norm(dim=0)
    assert torch.all(score[:-1] >= score[1:] - 1e-6)


def test_dagger_labels_the_states_the_student_visits_with_the_expert():
    info = EnvInfo.of("CartPole-v1", 20)
    torch.manual_seed(0)
    agent, net = Agent(info), student(info, StudentModel(hidden=8)).eval()
    x0 = torch.zeros(5, 4)
    y0 = torch.zeros(5, dtype=torch.long)
    x, y = jobs.aggregate(net, agent, info, x0, y0, 40, [8, 2], seed=7, max_steps=20)
    assert torch.equal(x[:5], x0) and torch.equal(y[:5], y0) and len(x) == 45
    # The new states are those the student visits at the widths asked for, in order...
    net.set_width(8)
    first = collect(greedy(net, True), info, 20, 7, 20)
    net.set_width(None)
    assert torch.equal(x[5:25], first)
    # ...and their labels are the expert's actions on them, not the student's.
    assert torch.equal(y[5:], agent.act(x[5:]))
    assert net.td_layers()[0].eval_width is None


def test_dagger_widths_draw_narrow_students_only_with_td():
    assert jobs.dagger_widths("none", 64, 4, 0) == [64] * 4
    widths = jobs.dagger_widths("triangle", 64, 200, 0)
    assert min(widths) == 1 and max(widths) <= 64 and np.median(widths) < 32


def test_sweep_rows_have_the_shared_columns(made, tmp_path):
    out, ep = tmp_path / "s.csv", tmp_path / "e.csv"
    spec = PolicySweep(Rows("cp", "td", 3), 8, CARTPOLE, (1, 2, 8))
    jobs.sweep(spec, model=made["td"], expert=made["expert"], out=out, episodes=ep)
    rows = pd.read_csv(out)
    assert list(rows.columns) == COLUMNS and rows["width"].tolist() == [1, 2, 8]
    assert set(rows["metric"]) == {"return"} and set(rows["seed"]) == {3}
    episodes = pd.read_csv(ep)
    assert list(episodes.columns) == analysis.EPISODE_COLUMNS and len(episodes) == 3 * 3
    mean = episodes.groupby("width")["normalised"].mean()
    assert np.allclose(mean.to_numpy(), rows["value"].to_numpy(), atol=1e-5)
    meta = json.loads(made["expert"].with_suffix(".json").read_text())
    r = episodes.iloc[0]
    expected = (r["return"] - meta["random_return"]) / (
        meta["expert_return"] - meta["random_return"]
    )
    assert r["normalised"] == pytest.approx(expected, rel=1e-5)
    # Without TD: full width only (its cuts are the baselines).
    spec = PolicySweep(Rows("cp", "notd", 3), 8, CARTPOLE, (1, 2, 8))
    jobs.sweep(spec, model=made["notd"], expert=made["expert"], out=out, episodes=ep)
    assert pd.read_csv(out)["width"].tolist() == [8]


def test_baselines_cut_the_notd_student_two_ways(made, tmp_path):
    out, ep = tmp_path / "b.csv", tmp_path / "be.csv"
    spec = PolicyBaselines(Rows("cp", "notd", 0), 8, CARTPOLE, (2, 8), rank_states=50)
    jobs.baselines(spec, model=made["notd"], expert=made["expert"], out=out, episodes=ep)
    rows = pd.read_csv(out)
    assert list(rows.columns) == COLUMNS
    assert set(zip(rows["model"], rows["width"], strict=True)) == {
        (m, w) for m in ("notd_cut", "notd_sorted") for w in (2, 8)
    }
    full = rows[rows["width"] == 8].set_index("model")["value"]
    assert full["notd_cut"] == pytest.approx(full["notd_sorted"], abs=1e-6)  # same function
    with pytest.raises(ValueError, match="trained without TD"):
        jobs.baselines(spec, model=made["td"], expert=made["expert"], out=out, episodes=ep)


def test_smallest_width_reaching_a_level():
    widths = [1, 2, 4, 8, 16]
    assert analysis.smallest_width(widths, [0.1, 0.5, 0.92, 0.8, 1.0], 0.9) == 4
    assert analysis.smallest_width(widths[::-1], [1.0, 0.8, 0.92, 0.5, 0.1], 0.9) == 4
    assert analysis.smallest_width(widths, [0.1] * 5, 0.9) == math.inf


def synthetic(noise: float = 0.0) -> pd.DataFrame:
    """Normalised returns with a known answer: TD reaches 0.9 at width 4, 0.95 at 8; the
    fixed students at 2 and 4; the no-TD cut only at full width 16 (reference: notd, 1.0)."""
    curves = {
        "td": {1: 0.1, 2: 0.5, 4: 0.92, 8: 0.97, 16: 1.0},
        "fixed": {2: 0.91, 4: 0.99},
        "notd_cut": {1: 0.0, 2: 0.0, 4: 0.1, 8: 0.3, 16: 1.0},
        "notd": {16: 1.0},
    }
    rng = np.random.default_rng(0)
    rows = [
        ("e", m, s, w, k, 0.0, v + noise * rng.standard_normal())
        for m, c in curves.items()
        for w, v in c.items()
        for s in range(3)
        for k in range(5)
    ]
    return pd.DataFrame(rows, columns=analysis.EPISODE_COLUMNS)


def test_the_complexity_table_finds_the_known_smallest_widths():
    table = analysis.complexity_table(synthetic(), "e", (0.9, 0.95), boot=50)
    got = {(r.model, r.level): r.width for r in table.itertuples()}
    assert got == {
        ("td", 0.9): 4,
        ("td", 0.95): 8,
        ("fixed", 0.9): 2,
        ("fixed", 0.95): 4,
        ("notd_cut", 0.9): 16,
        ("notd_cut", 0.95): 16,
    }
    assert list(table.columns) == analysis.TABLE_COLUMNS
    assert (table["low"] == table["width"]).all() and (table["high"] == table["width"]).all()
    assert (table["reference"] == 1.0).all()
    noisy = analysis.complexity_table(synthetic(0.05), "e", (0.9,), boot=200)
    assert (noisy["low"] <= noisy["width"]).all() and (noisy["width"] <= noisy["high"]).all()


def test_the_iqm_is_the_mean_of_the_middle_half():
    assert analysis.iqm(np.arange(8.0)) == pytest.approx(3.5)  # mean of 2, 3, 4, 5
    assert analysis.iqm([0.0, 1.0, 1.0, 100.0]) == pytest.approx(1.0)  # outliers cut
    assert analysis.iqm(np.array([[1.0, 2, 3, 4], [0, 0, 0, 4]])).tolist() == [2.5, 0.0]


def test_the_iqm_over_environments_stratifies_the_bootstrap(tmp_path):
    """Two environments of different size: env a's 3 seeds score 0.2 at width 1 and 1.0 at 2;
    env b's 5 seeds score 0.8 at both. Every replicate keeps 3 runs of a and 5 of b (a plain
    bootstrap over the 8 runs would not), so the IQM, the middle 4 runs of 8, is the same in
    every replicate: (0.2 + 3 x 0.8) / 4 at width 1. A model swept only in env a is
    aggregated there."""
    rows = []
    for exp, seeds, at in (("a", 3, {1: 0.2, 2: 1.0}), ("b", 5, {1: 0.8, 2: 0.8})):
        for s in range(seeds):
            for w, v in at.items():
                rows += [(exp, "td", s, w, k, 0.0, v) for k in range(4)]
                if exp == "a":
                    rows += [(exp, "fixed", s, w, k, 0.0, v / 2) for k in range(4)]
    episodes = pd.DataFrame(rows, columns=analysis.EPISODE_COLUMNS)
    found = analysis.aggregate(episodes, boot=200).set_index(["model", "width"])
    assert list(found.reset_index().columns) == analysis.IQM_COLUMNS
    td1 = found.loc[("td", 1)]
    assert (td1["iqm"], td1["low"], td1["high"]) == pytest.approx((0.65, 0.65, 0.65))
    assert td1["mean"] == pytest.approx((3 * 0.2 + 5 * 0.8) / 8) and td1["runs"] == 8
    assert found.loc[("td", 2), "iqm"] == pytest.approx(0.85)  # 0.8, 0.8, 0.8, 1.0
    assert found.loc[("fixed", 2), "environments"] == 1 and found.loc[("fixed", 2), "iqm"] == 0.5
    path = tmp_path / "episodes.csv"
    noisy = episodes.assign(normalised=episodes["normalised"] + 0.1 * np.sin(np.arange(len(rows))))
    noisy.to_csv(path, index=False)
    jobs.iqm(load(PolicyAggregate, {"boot": 100}), episodes=[path], out=tmp_path / "iqm.csv")
    got = pd.read_csv(tmp_path / "iqm.csv")
    assert ((got["low"] <= got["iqm"]) & (got["iqm"] <= got["high"])).all()
    assert (got["low"] < got["high"]).all()
    jobs.plot_iqm(load(PolicyAggregate, {}), table=tmp_path / "iqm.csv", png=tmp_path / "i.png")
    assert (tmp_path / "i.png").stat().st_size > 10_000


def test_the_complexity_figure_places_each_width_and_never(tmp_path):
    from tridrop.families.policy.figure import plot_complexity

    table = analysis.complexity_table(synthetic(), "e", (0.9, 0.95), boot=20)
    never = table["model"] == "notd_cut"
    table.loc[never, ["width", "high"]] = math.inf  # the cut never reaches the level
    paths = [tmp_path / "e.csv", tmp_path / "f.csv"]
    table.to_csv(paths[0], index=False)
    table.assign(experiment="f").to_csv(paths[1], index=False)
    fig = plot_complexity(pd.concat([pd.read_csv(p) for p in paths]), 16)
    assert len(fig.axes) == 2 and [t.get_text() for t in fig.axes[0].get_yticklabels()] == [
        "e",
        "f",
    ]
    assert fig.axes[0].get_xticklabels()[-1].get_text() == "never"
    drawn = {c.get_label(): list(c.lines[0].get_xdata()) for c in fig.axes[0].containers}
    assert drawn["Triangular Dropout"] == [4, 4] and drawn["trained at this width"] == [2, 2]
    assert drawn["no TD, truncated (last units zeroed)"] == [64, 64]  # never: 4 x full width
    spec = load(PolicyComplexity, {"width": 16})
    jobs.plot_complexity(spec, tables=paths, png=tmp_path / "c.png")
    assert (tmp_path / "c.png").stat().st_size > 10_000


def test_select_picks_the_known_width_from_the_episodes(tmp_path):
    """Widths 16 and up play as full width, 8 loses 3% on every episode, narrower ones lose
    half: within 1% select picks 16, within 5% 8, and checks on the episodes it did not see."""
    rows = []
    for seed in (0, 1):
        for episode in range(20):
            noise = 0.001 * ((episode * 7 + seed) % 5)
            for width in (1, 2, 4, 8, 16, 32):
                value = 0.99 - noise - (0.03 if width == 8 else 0.5 if width < 8 else 0.0)
                rows.append(("e", "td", seed, width, episode, 100 * value, value))
    rows.append(("e", "notd", 0, 32, 0, 0.0, 0.0))  # another model's rows are left out
    path = tmp_path / "episodes.csv"
    pd.DataFrame(rows, columns=analysis.EPISODE_COLUMNS).to_csv(path, index=False)
    spec = load(Select, {"experiment": "e", "model": "td", "widths": [1, 2, 4, 8, 16]})
    jobs.select(spec, episodes=[path], out=tmp_path / "select.csv")
    got = pd.read_csv(tmp_path / "select.csv")
    assert len(got) == 4 and set(got["seed"]) == {0, 1} and (got["examples"] == 10).all()
    assert got.groupby("tolerance")["width"].unique().map(list).to_dict() == {0.01: [16], 0.05: [8]}
    assert got["narrower"].all() and (got["metric"] == "return").all()
    at8 = got[got["width"] == 8]
    assert (abs(at8["value_check"] / at8["full_check"] - 0.96 / 0.99) < 0.002).all()
    with pytest.raises(ValueError, match="no per-episode returns of 'ppo'"):
        jobs.select(load(Select, {"experiment": "e", "model": "ppo", "widths": [1]}),
                    episodes=[path], out=tmp_path / "none.csv")  # fmt: skip
    assert not (tmp_path / "none.csv").exists()


def test_claims_rows_and_verdicts_on_the_synthetic_case():
    cfg = PolicyClaims()
    found = analysis.policy_claims(synthetic(), "e", 16, cfg, boot=50)
    assert list(found.columns) == CLAIM_COLUMNS and set(found["verdict"]) <= set(VERDICTS)
    ratio, half, full = found.itertuples()
    assert ratio.value == 2 and ratio.verdict == "held"  # 4 / 2, within 2x
    assert half.value == 4 / 16 and half.control == "notd_cut" and half.control_value == 1.0
    assert half.verdict == "held"
    assert full.value == pytest.approx(1.0) and full.verdict == "held"
    strict = analysis.policy_claims(synthetic(), "e", 16, PolicyClaims(fixed_ratio=1.5), 50)
    assert strict.iloc[0]["verdict"] == "failed"
    # Neither TD nor the fixed students reach the level: no ratio, which counts against the
    # claim (an infinite interval, failed), not a missing interval.
    rows = synthetic()
    rows.loc[rows["model"].isin(["td", "fixed"]), "normalised"] = 0.5
    never = analysis.policy_claims(rows, "e", 16, cfg, boot=50).iloc[0]
    assert (never["low"], never["high"], never["verdict"]) == (math.inf, math.inf, "failed")
    rows.loc[(rows["model"] == "fixed") & (rows["width"] == 4), "normalised"] = 0.95
    some = analysis.policy_claims(rows, "e", 16, cfg, boot=50).iloc[0]
    assert (some["value"], some["high"]) == (math.inf, math.inf)  # inf / 4, not the float max


def test_normalisation_and_bad_input_are_refused_clearly(tmp_path, made):
    assert analysis.normalise([10.0, 20.0], 20.0, 10.0).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="not above a random policy"):
        analysis.normalise([1.0], 5.0, 5.0)
    with pytest.raises(SpecError, match="env = 'Nope-v0' is not allowed"):
        load(EXPERIMENT, {"env": "Nope-v0"})
    with pytest.raises(SpecError, match="notd"):
        load(EXPERIMENT, {"env": "CartPole-v1", "variants": {"td": {"mode": "triangle"}}})
    with pytest.raises(ValueError, match="environment 'Nope-v0'"):
        EnvInfo.of("Nope-v0")
    with pytest.raises(ValueError, match="not a policy student model file"):
        spec = PolicySweep(Rows("cp", "td"), 8, CARTPOLE)
        jobs.sweep(spec, model=made["expert"], expert=made["expert"], out=tmp_path / "o.csv",
                   episodes=tmp_path / "e.csv")  # fmt: skip
    with pytest.raises(ValueError, match="wider than the sweep's spec.width = 4"):
        spec = PolicySweep(Rows("cp", "td"), 4, CARTPOLE)
        jobs.sweep(spec, model=made["td"], expert=made["expert"], out=tmp_path / "o.csv",
                   episodes=tmp_path / "e.csv")  # fmt: skip
    with pytest.raises(ValueError, match="for CartPole-v1, but the spec's env is Acrobot-v1"):
        spec = PolicySweep(Rows("cp", "td"), 8, EnvSpec("Acrobot-v1"))
        jobs.sweep(spec, model=made["td"], expert=made["expert"], out=tmp_path / "o.csv",
                   episodes=tmp_path / "e.csv")  # fmt: skip
    assert not (tmp_path / "o.csv").exists()


def test_continuous_actions_are_clipped_and_episodes_are_seeded():
    info = EnvInfo.of("Pendulum-v1", 10)
    assert not info.discrete and info.low == (-2.0,) and info.high == (2.0,)
    big = lambda obs: torch.full((len(obs), 1), 50.0)  # noqa: E731
    a, _, _ = run_episodes(big, info, [0, 1], 10)
    b, states, _ = run_episodes(big, info, [0, 1], 10, keep_states=True)
    assert a == b and states.shape == (20, 3)
    clipped = info.clip(torch.tensor([[50.0], [-50.0]]))
    assert clipped.tolist() == [[2.0], [-2.0]]


def test_trajectory_rows_and_figure(made, tmp_path):
    out, png = tmp_path / "t.csv", tmp_path / "t.png"
    spec = PolicyTrajectory(Rows("cp", "td"), CARTPOLE, (1, 8))
    jobs.trajectory(spec, model=made["td"], expert=made["expert"], out=out)
    rows = pd.read_csv(out)
    assert set(zip(rows["model"], rows["width"], strict=True)) == {("expert", 0), ("td", 1),
                                                                   ("td", 8)}  # fmt: skip
    assert {f"obs{i}" for i in range(4)} <= set(rows.columns) and rows["step"].max() < 30
    meta = json.loads(made["expert"].with_suffix(".json").read_text())
    assert rows.loc[rows["model"] == "expert", "return"].iloc[0] == meta["expert_returns"][0]
    from tridrop.families.policy.specs import PolicyFigure

    jobs.plot_trajectory(PolicyFigure("cp"), trajectory=out, png=png)
    assert png.stat().st_size > 1000 and png.with_suffix(".pdf").exists()
    with pytest.raises(ValueError, match=r"spec.widths \[16\] exceed it"):
        spec = PolicyTrajectory(Rows("cp", "td"), CARTPOLE, (16,))
        jobs.trajectory(spec, model=made["td"], expert=made["expert"], out=tmp_path / "x.csv")


def test_the_expert_resumes_from_its_checkpoint(tmp_path, caplog):
    """A rerun of the same spec resumes at the checkpoint's last iteration (none retrained)."""
    import logging

    spec = ExpertJob(CARTPOLE, PPOSpec(timesteps=128, envs=2, rollout=32, ppo_epochs=1))
    ckpt = tmp_path / "ckpt.pt"
    jobs.expert(spec, model=tmp_path / "a.pt", checkpoint=ckpt)
    with caplog.at_level(logging.INFO):
        jobs.expert(spec, model=tmp_path / "b.pt", checkpoint=ckpt)
    assert "resumed from" in caplog.text and "iteration 1/2" not in caplog.text
    a = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    # A fresh run of the same spec is the same run (seeded weights, environments, actions).
    jobs.expert(spec, model=tmp_path / "c.pt")
    c = torch.load(tmp_path / "c.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_a_continuous_student_learns_the_experts_actions_by_squared_error(tmp_path):
    """Pendulum: a Gaussian expert, a student fit by MSE to its clipped deterministic action,
    swept at two widths."""
    env = EnvSpec("Pendulum-v1", max_steps=20, eval_episodes=2)
    ppo = PPOSpec(timesteps=128, envs=2, rollout=32, ppo_epochs=1)
    jobs.expert(ExpertJob(env, ppo), model=tmp_path / "e.pt")
    spec = StudentTrain(
        StudentModel(hidden=8),
        TrainSpec(epochs=30, batch_size=16, device="cpu"),
        Dagger(bc_states=40, dagger_rounds=1, dagger_states=20),
        env,
    )
    jobs.train(spec, expert=tmp_path / "e.pt", model=tmp_path / "s.pt")
    meta = json.loads((tmp_path / "s.json").read_text())
    rounds = meta["history"]
    assert [r["states"] for r in rounds] == [40, 60] and len(rounds[1]["widths"]) == 4
    assert rounds[-1]["epochs"][-1]["loss"] < rounds[0]["epochs"][0]["loss"]
    out, ep = tmp_path / "o.csv", tmp_path / "ep.csv"
    sweep = PolicySweep(Rows("pend", "td"), 8, env, (2, 8))
    args = {"model": tmp_path / "s.pt", "expert": tmp_path / "e.pt", "out": out, "episodes": ep}
    # Four PPO iterations make no expert: no better than random, it cannot normalise.
    state, expert_meta = load_model_file(tmp_path / "e.pt")
    if expert_meta["expert_return"] <= expert_meta["random_return"]:
        with pytest.raises(ValueError, match="not above a random policy's"):
            jobs.sweep(sweep, **args)
        expert_meta["random_return"] = expert_meta["expert_return"] - 100.0
        agent = Agent(EnvInfo.of("Pendulum-v1"), 64)
        agent.load_state_dict(state)
        save_model(tmp_path / "e.pt", agent, expert_meta)
    jobs.sweep(sweep, **args)
    assert pd.read_csv(out)["width"].tolist() == [2, 8]


def test_a_mujoco_environment_runs_the_family_and_every_environment_has_its_trace(tmp_path):
    """InvertedPendulum (MuJoCo, headless): expert, student and trajectory as for classic
    control, the figure showing the pole's angle; every allowed id has a traced quantity."""
    from tridrop.families.policy.figure import TRACES
    from tridrop.families.policy.specs import ENVS, PolicyFigure

    assert set(TRACES) == set(ENVS)
    env = EnvSpec("InvertedPendulum-v5", max_steps=20, eval_episodes=2)
    info = EnvInfo.of(env.env)
    assert (info.obs_dim, info.act_dim, info.discrete, info.high) == (4, 1, False, (3.0,))
    jobs.expert(ExpertJob(env, PPOSpec(timesteps=64, envs=2, rollout=32, ppo_epochs=1)),
                model=tmp_path / "e.pt")  # fmt: skip
    spec = StudentTrain(StudentModel(hidden=4), TrainSpec(epochs=1, batch_size=16, device="cpu"),
                        Dagger(bc_states=20, dagger_rounds=1, dagger_states=10), env)  # fmt: skip
    jobs.train(spec, expert=tmp_path / "e.pt", model=tmp_path / "s.pt")
    out, png = tmp_path / "t.csv", tmp_path / "t.png"
    jobs.trajectory(PolicyTrajectory(Rows("ip", "td"), env, (1, 4)), model=tmp_path / "s.pt",
                    expert=tmp_path / "e.pt", out=out)  # fmt: skip
    rows = pd.read_csv(out)
    assert set(rows["env"]) == {"InvertedPendulum-v5"} and rows["step"].max() < 20
    jobs.plot_trajectory(PolicyFigure("ip"), trajectory=out, png=png)
    assert png.stat().st_size > 1000


def test_the_results_page_shows_the_complexity_table(tmp_path):
    from tridrop.families.policy import pages

    (tmp_path / "tables").mkdir()
    table = analysis.complexity_table(synthetic(), "e", (0.9, 0.95), boot=20)
    table.loc[table["model"] == "notd_cut", "high"] = math.inf
    table.to_csv(tmp_path / "tables/e_complexity.csv", index=False)
    text = "\n".join(pages.sections(tmp_path, lambda p: p.name))
    assert "### e: task complexity ([csv](e_complexity.csv))" in text
    assert "| Triangular Dropout | 4 [4, 4] | 8 [8, 8] |" in text
    assert "| no TD, truncated (last units zeroed) | 16 [16, never] |" in text
    iqm = analysis.aggregate(synthetic(), boot=20)
    iqm.to_csv(tmp_path / "tables/iqm_return_curve.csv", index=False)
    text = "\n".join(pages.sections(tmp_path, lambda p: p.name))
    assert text.index("### Every environment: IQM") < text.index("### e: task complexity")
    assert (
        "| Triangular Dropout | 0.10 [0.10, 0.10] | 0.50 [0.50, 0.50] | 0.92 [0.92, 0.92] |" in text
    )


def test_a_batch_narrower_than_the_students_is_noted_before_the_run():
    from tridrop.families.policy.specs import notes

    fine = load(EXPERIMENT, {"env": "CartPole-v1"})
    assert notes("cp", fine) == []
    narrow_batch = load(EXPERIMENT, {"env": "CartPole-v1", "batch_size": 64})
    (note,) = notes("cp", narrow_batch)
    assert "policies.cp.variants.td: the triangle mask never trains widths [1, 2]" in note


@pytest.mark.parametrize("mode", ["random", "nested"])
def test_tds_relatives_train_and_sweep(made, tmp_path, mode):
    spec = StudentTrain(
        StudentModel(hidden=8, mode=mode),
        TrainSpec(epochs=1, batch_size=32, device="cpu"),
        Dagger(bc_states=64, dagger_rounds=1, dagger_states=32),
        CARTPOLE,
    )
    jobs.train(spec, expert=made["expert"], model=tmp_path / "s.pt")
    out, ep = tmp_path / "o.csv", tmp_path / "e.csv"
    sweep = PolicySweep(Rows("cp", mode), 8, CARTPOLE, (1, 8))
    jobs.sweep(sweep, model=tmp_path / "s.pt", expert=made["expert"], out=out, episodes=ep)
    assert pd.read_csv(out)["width"].tolist() == [1, 8]


# ---------------------------------------------------------------- part B: PPO, TD in the actor


def test_each_environment_acts_at_its_episodes_width():
    from tridrop.families.policy.rl import EpisodeWidths

    info = EnvInfo("CartPole-v1", 4, 2, True)
    gen = torch.Generator().manual_seed(0)
    tri = EpisodeWidths(student(info, StudentModel(hidden=8)), 4, gen)
    assert tri.now.tolist() == [0.25, 0.5, 0.75, 1.0]
    tri.restart([0, 2])
    assert tri.now.tolist() == [0.25, 0.5, 0.75, 1.0]  # triangle: one width per environment
    drawn = EpisodeWidths(student(info, StudentModel(hidden=8, mode="random")), 4, gen)
    before = drawn.now.clone()
    drawn.restart([1])
    assert drawn.now[1] != before[1] and torch.equal(drawn.now[[0, 2, 3]], before[[0, 2, 3]])
    assert EpisodeWidths(student(info, StudentModel(hidden=8, mode="none")), 4, gen).now is None


def test_the_actor_at_a_fraction_is_the_narrowed_student():
    """PPO's rollouts and updates give each sample its width fraction: the logits are those of
    the student cut to that width, so every width learns on-policy."""
    from tridrop.dropout import widths_from_fractions
    from tridrop.families.policy.rl import forward_at

    info = EnvInfo("CartPole-v1", 4, 2, True)
    torch.manual_seed(2)
    net = student(info, StudentModel(hidden=8, mode="random")).train()
    obs, frac = torch.randn(5, 4), torch.tensor([0.1, 0.3, 0.5, 0.8, 1.0], dtype=torch.float64)
    out = forward_at(net, obs, frac)
    for i, w in enumerate(widths_from_fractions(frac, 8).tolist()):
        assert torch.allclose(out[i], narrow(net, w)(obs[i : i + 1])[0], atol=1e-6)


def test_ppo_takes_the_new_log_probabilities_at_the_widths_the_rollout_stored():
    """With no step taken (learning rate 0) PPO's ratio is exactly 1 when the update evaluates
    each sample at the width it was rolled out at; with the widths swapped between samples
    (old and new log-probabilities from different networks) the ratio leaves the clip range."""
    from tridrop.families.policy.rl import _update

    info = EnvInfo("CartPole-v1", 4, 2, True)
    torch.manual_seed(0)
    agent = Agent(info, actor=student(info, StudentModel(hidden=16, mode="random")))
    with torch.no_grad():  # sharper logits: widths that differ give clearly other actions
        for p in agent.actor.parameters():
            p.mul_(4)
    obs, frac = torch.randn(64, 4), torch.rand(64, dtype=torch.float64).clamp(min=0.05)
    with torch.no_grad():
        dist = agent.dist(obs, frac)
        act = dist.sample()
        logp = agent.log_prob(dist, act)
    flat = {"obs": obs, "act": act, "logp": logp, "adv": torch.randn(64), "ret": torch.randn(64)}
    still = torch.optim.SGD(agent.parameters(), lr=0.0)
    cfg = PPOSpec(ppo_epochs=1)
    same = _update(agent, still, flat | {"frac": frac}, cfg, 16)
    assert same["clip_fraction"] == 0 and abs(same["policy_loss"]) < 1e-6
    swapped = _update(agent, still, flat | {"frac": frac.flip(0)}, cfg, 16)
    assert swapped["clip_fraction"] > 0.1


def test_rl_variants_train_the_student_by_ppo_and_sweep_like_any(made, tmp_path):
    variants = {"notd": {"mode": "none"}, "ppo_td": {"mode": "random", "rl": True}}
    exp = load(
        EXPERIMENT, {"env": "CartPole-v1", "variants": variants, "claims": {"model": "notd"}}
    )
    from tridrop.families.policy.specs import train_spec

    spec = train_spec(exp, "ppo_td", seed=3, device="cpu")
    assert spec.rl and spec.ppo.expert_seed == 3 and not train_spec(exp, "notd").rl
    ppo = PPOSpec(timesteps=128, envs=2, rollout=32, ppo_epochs=1, expert_seed=3)
    spec = StudentTrain(StudentModel(hidden=8, mode="random"), TrainSpec(epochs=1), Dagger(),
                        CARTPOLE, True, ppo)  # fmt: skip
    jobs.train(spec, expert=made["expert"], model=tmp_path / "r.pt", checkpoint=tmp_path / "c")
    meta = json.loads((tmp_path / "r.json").read_text())
    assert meta["rl"] and meta["arch"]["kind"] == "policy_student" and len(meta["history"]) == 2
    out, ep = tmp_path / "o.csv", tmp_path / "e.csv"
    sweep = PolicySweep(Rows("cp", "ppo_td"), 8, CARTPOLE, (1, 8))
    jobs.sweep(sweep, model=tmp_path / "r.pt", expert=made["expert"], out=out, episodes=ep)
    assert pd.read_csv(out)["width"].tolist() == [1, 8]
    with pytest.raises(SpecError, match="PPO's settings for rl"):
        StudentTrain(StudentModel(), TrainSpec(), Dagger(), CARTPOLE, True)


def test_a_student_is_the_same_when_trained_again(made, tmp_path):
    spec = StudentTrain(
        StudentModel(hidden=8, mode="triangle"),
        TrainSpec(epochs=1, batch_size=32, device="cpu"),
        Dagger(bc_states=64, dagger_rounds=1, dagger_states=32),
        CARTPOLE,
    )
    jobs.train(spec, expert=made["expert"], model=tmp_path / "again.pt")
    a = torch.load(made["td"], weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "again.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
