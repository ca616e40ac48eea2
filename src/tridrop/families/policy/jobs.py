"""Policy jobs: train a PPO expert per environment, distil students with Triangular Dropout
(behaviour cloning, then DAgger), sweep their closed-loop return over widths, the no-TD cuts,
the task-complexity table, the claims and the figure.

Every evaluation is deterministic (the likeliest action, or the Gaussian's mean) on the same
``eval_episodes`` start states (``eval_seed + i``), for the expert, a random policy and each
student at each width, so rows are paired across models. Returns are normalised as
``(R - R_random) / (R_expert - R_random)`` (:mod:`~tridrop.families.policy.analysis`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

import matplotlib
import numpy as np
import pandas as pd
import torch

from tridrop.evaluation import tidy_at
from tridrop.extract import narrow
from tridrop.families.policy import analysis
from tridrop.families.policy.models import (
    EXPERT,
    STUDENT,
    arch,
    greedy,
    load_expert,
    load_student,
    sort_units,
    student,
)
from tridrop.families.policy.rl import (
    Agent,
    EnvInfo,
    collect,
    ppo,
    random_policy,
    run_episodes,
)
from tridrop.families.policy.specs import (
    ExpertJob,
    PolicyAggregate,
    PolicyAnalysis,
    PolicyBaselines,
    PolicyComplexity,
    PolicyFigure,
    PolicySweep,
    PolicyTrajectory,
    StudentTrain,
)
from tridrop.figures import save
from tridrop.files import read_csv, write_csv
from tridrop.job import In, Out, Work
from tridrop.specs import Select, dump
from tridrop.train import classification_loss, fit, save_run
from tridrop.width import nested_widths, set_width

log = logging.getLogger(__name__)
CPU = torch.device("cpu")
# Seeds of the training rollouts: apart from the evaluation episodes (EnvSpec.eval_seed) and
# from each other (behaviour cloning, each DAgger round, the states that rank units).
BC_SEEDS, ROUND_SEEDS, RANK_SEEDS = 1_000_000, 100_000, 9_000_000


def _eval_seeds(env) -> list[int]:
    return [env.eval_seed + i for i in range(env.eval_episodes)]


def expert(spec: ExpertJob, *, model: Out, checkpoint: Work | None = None):
    """Train the PPO expert of one environment; its model file records its mean deterministic
    return and a uniformly random policy's over the evaluation episodes (the normalisation)."""
    env, cfg = spec.env, spec.ppo
    info = EnvInfo.of(env.env, env.max_steps)
    torch.manual_seed(cfg.expert_seed)
    agent = Agent(info, cfg.expert_hidden)
    log.info("PPO expert on %s (%s) for %d steps", env.env, info, cfg.timesteps)
    t0 = time.perf_counter()
    history = ppo(agent, info, cfg, env.max_steps, checkpoint, tag=dump(spec))
    seconds = time.perf_counter() - t0
    agent.eval()
    seeds = _eval_seeds(env)
    returns, _, _ = run_episodes(agent.act, info, seeds, env.max_steps)
    chance, _, _ = run_episodes(random_policy(info, env.eval_seed), info, seeds, env.max_steps)
    log.info(
        "expert: mean deterministic return %.2f over %d episodes (random policy %.2f); %.0fs",
        np.mean(returns),
        len(seeds),
        np.mean(chance),
        seconds,
    )
    meta = {
        "arch": arch(EXPERT, info, hidden=cfg.expert_hidden),
        "train": cfg,
        "env_spec": asdict(env),
        "expert_return": float(np.mean(returns)),
        "expert_returns": returns,
        "random_return": float(np.mean(chance)),
        "random_returns": chance,
        "train_seconds": seconds,
    }
    save_run(model, agent, meta, CPU, history)


def _labels(agent: Agent, info: EnvInfo, states: torch.Tensor) -> torch.Tensor:
    """The expert's deterministic actions on ``states`` (clipped to the bounds)."""
    return info.clip(agent.act(states))


def mse_loss(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared error of a continuous student's action against the expert's."""
    return torch.nn.functional.mse_loss(model(x).float(), y)


def dagger_widths(mode: str, hidden: int, n: int, seed: int) -> list[int]:
    """Widths a student acts at in one DAgger round: full width without TD; with TD, ``n``
    widths drawn log-uniformly on 1..hidden, so the states narrow students reach are labelled."""
    if mode in ("none", "dropout"):
        return [hidden] * n
    gen = torch.Generator().manual_seed(seed)
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    return [int(w) for w in torch.floor((hidden + 1) ** u).clamp(1, hidden)]


def aggregate(
    net: torch.nn.Module,
    agent: Agent,
    info: EnvInfo,
    x: torch.Tensor,
    y: torch.Tensor,
    n_states: int,
    widths: list[int],
    seed: int,
    max_steps: int | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One DAgger step: the student (``net``, at each of ``widths`` in turn) acts, the expert
    labels the states it visits, and they join the set ``(x, y)``."""
    net.eval()
    share = -(-n_states // len(widths))
    visited = []
    for i, w in enumerate(widths):
        set_width(net, w)
        policy = greedy(net, info.discrete)
        visited.append(collect(policy, info, share, seed + 1000 * i, max_steps))
    set_width(net, None)
    states = torch.cat(visited)[:n_states]
    return torch.cat([x, states]), torch.cat([y, _labels(agent, info, states)])


def train(spec: StudentTrain, *, expert: In, model: Out, checkpoint: Work | None = None):
    """Distil a student from the expert: behaviour cloning on the expert's own states, then
    ``dagger_rounds`` rounds of DAgger (the student acts, the expert labels, the sets are
    aggregated and training continues), ``train.epochs`` epochs per round. With ``spec.rl``
    the expert is not used: PPO trains the student network as its actor, TD in it (each
    environment's episode at one width), resuming from ``checkpoint``."""
    agent, _, info = load_expert(expert)
    m, cfg, d, env = spec.model, spec.train, spec.dagger, spec.env
    if info.env != env.env:
        raise ValueError(f"{expert}: an expert for {info.env}, but the spec's env is {env.env}")
    if spec.rl:
        _train_rl(spec, info, model, checkpoint)
        return
    torch.manual_seed(cfg.seed)
    net = student(info, m)
    base = BC_SEEDS * (cfg.seed + 1)
    x = collect(agent.act, info, d.bc_states, base, env.max_steps)
    y = _labels(agent, info, x)
    loss = classification_loss if info.discrete else mse_loss
    log.info("student %s on %s: behaviour cloning on %d expert states", m, env.env, len(x))
    history = [{"round": 0, "states": len(x), "epochs": fit(net, x, y, cfg, loss)}]
    for r in range(1, d.dagger_rounds + 1):
        seed = base + ROUND_SEEDS * r
        widths = dagger_widths(m.mode, m.hidden, 4, seed)
        x, y = aggregate(net, agent, info, x, y, d.dagger_states, widths, seed, env.max_steps)
        log.info(
            "DAgger round %d/%d: %d states (student at widths %s)",
            r,
            d.dagger_rounds,
            len(x),
            widths,
        )
        history.append(
            {"round": r, "states": len(x), "widths": widths, "epochs": fit(net, x, y, cfg, loss)}
        )
    meta = {
        "arch": arch(STUDENT, info, model=asdict(m)),
        "train": cfg,
        "dagger": asdict(d),
        "env_spec": asdict(env),
        "expert": str(expert),
        "states": len(x),
    }
    save_run(model, net.eval(), meta, CPU, history)


def _train_rl(spec: StudentTrain, info: EnvInfo, model, checkpoint) -> None:
    """PPO with TD in the actor: the student network is the actor (a critic of its own); the
    actor alone is saved, as a student model file (sweeps cut it as any student)."""
    m, ppo_spec = spec.model, spec.ppo
    torch.manual_seed(ppo_spec.expert_seed)
    agent = Agent(info, ppo_spec.expert_hidden, actor=student(info, m))
    log.info("PPO with TD in the actor %s on %s for %d steps", m, info.env, ppo_spec.timesteps)
    history = ppo(agent, info, ppo_spec, spec.env.max_steps, checkpoint, tag=dump(spec))
    meta = {
        "arch": arch(STUDENT, info, model=asdict(m)),
        "train": ppo_spec,
        "rl": True,
        "env_spec": asdict(spec.env),
    }
    save_run(model, agent.actor.eval(), meta, CPU, history)


def _sweep_rows(nets, info, env, normal, experiment, model, seed):
    """Returns of ``nets`` ({width: dense network}) on the evaluation episodes: the tidy
    mean rows and the per-episode rows."""
    seeds = _eval_seeds(env)
    means, episodes = [], []
    for w, net in nets.items():
        returns, _, _ = run_episodes(greedy(net, info.discrete), info, seeds, env.max_steps)
        scaled = analysis.normalise(returns, *normal)
        means.append(float(scaled.mean()))
        log.info(
            "%s seed %d width %d: return %.2f (normalised %.3f)",
            model,
            seed,
            w,
            np.mean(returns),
            means[-1],
        )
        episodes.append(
            pd.DataFrame(
                {
                    "experiment": experiment,
                    "model": model,
                    "seed": seed,
                    "width": w,
                    "episode": range(len(seeds)),
                    "return": returns,
                    "normalised": scaled,
                }
            )
        )
    tidy = tidy_at(means, list(nets), experiment, model, seed, "return")
    return tidy, pd.concat(episodes, ignore_index=True)[analysis.EPISODE_COLUMNS]


def _normalisation(expert) -> tuple[float, float]:
    _, meta, _ = load_expert(expert)
    return float(meta["expert_return"]), float(meta["random_return"])


def _check_env(path, info: EnvInfo, env: str) -> None:
    if info.env != env:
        raise ValueError(f"{path}: a model for {info.env}, but the spec's env is {env}")


def sweep(spec: PolicySweep, *, model: In, expert: In, out: Out, episodes: Out):
    """Deterministic return of a student cut (``narrow``) to each width, per episode and as
    tidy rows (the normalised mean); a narrower student at its own width, one trained without
    TD at full width only (its cuts are the baselines)."""
    net, meta, info = load_student(model)
    _check_env(model, info, spec.env.env)
    hidden = meta["arch"]["model"]["hidden"]
    if hidden > spec.width:
        raise ValueError(
            f"{model}: hidden layers of {hidden} units, wider than the sweep's spec.width = "
            f"{spec.width}"
        )
    full_only = hidden < spec.width or meta["arch"]["model"]["mode"] == "none"
    widths = [hidden] if full_only else list(spec.widths or nested_widths(hidden))
    nets = {w: narrow(net, w) for w in widths}
    r = spec.rows
    tidy, per_episode = _sweep_rows(
        nets, info, spec.env, _normalisation(expert), r.experiment, r.model, r.seed
    )
    write_csv(tidy, out)
    write_csv(per_episode, episodes)


def baselines(spec: PolicyBaselines, *, model: In, expert: In, out: Out, episodes: Out):
    """The no-TD student (``model``) cut at each width without training: its last units zeroed
    (``notd_cut``) and its units first sorted by importance on expert states (``notd_sorted``)."""
    net, meta, info = load_student(model)
    _check_env(model, info, spec.env.env)
    hidden = meta["arch"]["model"]["hidden"]
    if hidden != spec.width or meta["arch"]["model"]["mode"] != "none":
        raise ValueError(
            f"{model}: the baselines cut the full-width student trained without TD "
            f"({spec.width} units, mode none); this one has {hidden} units, mode "
            f"{meta['arch']['model']['mode']!r}"
        )
    agent, _, expert_info = load_expert(expert)
    _check_env(expert, expert_info, spec.env.env)
    states = collect(agent.act, info, spec.rank_states, RANK_SEEDS, spec.env.max_steps)
    widths = list(spec.widths or nested_widths(hidden))
    normal = _normalisation(expert)
    r = spec.rows
    tidy, per_episode = [], []
    for name, base in (("notd_cut", net), ("notd_sorted", sort_units(net, states))):
        nets = {w: narrow(base, w) for w in widths}
        t, e = _sweep_rows(nets, info, spec.env, normal, r.experiment, name, r.seed)
        tidy.append(t)
        per_episode.append(e)
    write_csv(pd.concat(tidy, ignore_index=True), out)
    write_csv(pd.concat(per_episode, ignore_index=True), episodes)


def _episodes(paths) -> pd.DataFrame:
    return pd.concat([read_csv(p, analysis.EPISODE_COLUMNS) for p in paths], ignore_index=True)


def table(spec: PolicyAnalysis, *, episodes: list[In], out: Out, curve: Out):
    """The task-complexity table (each model's smallest width reaching each level of the
    full-width return, with bootstrap intervals) and the return curves of the figure."""
    rows = _episodes(episodes)
    rows = rows[rows["experiment"] == spec.experiment]
    found = analysis.complexity_table(rows, spec.experiment, spec.levels, spec.boot, spec.boot_seed)
    log.info("task complexity of %s:\n%s", spec.experiment, found.to_string())
    write_csv(found, out)
    write_csv(analysis.curves(rows, spec.experiment, spec.boot, spec.boot_seed), curve)


def claims(spec: PolicyAnalysis, *, episodes: list[In], out: Out):
    """The pre-registered claims of one environment, from the per-episode returns."""
    rows = _episodes(episodes)
    rows = rows[rows["experiment"] == spec.experiment]
    found = analysis.policy_claims(
        rows, spec.experiment, spec.width, spec.claims, spec.boot, spec.boot_seed
    )
    log.info("claims of %s:\n%s", spec.experiment, found.to_string())
    write_csv(found, out)


def iqm(spec: PolicyAggregate, *, episodes: list[In], out: Out):
    """Every environment together: the IQM of the normalised return per model and width over
    all runs, with stratified bootstrap intervals (rliable's aggregate)."""
    found = analysis.aggregate(_episodes(episodes), spec.boot, spec.boot_seed)
    log.info("IQM of the normalised return over every environment:\n%s", found.to_string())
    write_csv(found, out)


def select(spec: Select, *, episodes: list[In], out: Out):
    """The width ``tridrop.select`` picks for each run of ``spec.model`` at each tolerance:
    normalised return within that share of full width's with ``spec.confidence`` (a bootstrap
    over episodes, paired: every width plays the same start states), chosen on the even
    evaluation episodes and checked on the odd ones."""
    from tridrop.select import Selection, choose
    from tridrop.tables import selected_row

    rows = _episodes(episodes)
    rows = rows[(rows["experiment"] == spec.experiment) & (rows["model"] == spec.model)]
    if rows.empty:
        raise ValueError(f"no per-episode returns of {spec.model!r} in {spec.experiment!r}")
    found = []
    for seed, run in rows.groupby("seed"):
        table = run.pivot_table(index="episode", columns="width", values="normalised")
        full = int(table.columns.max())
        part = {k: table.iloc[k::2] for k in (0, 1)}  # chosen on 0, checked on 1
        if min(len(part[0]), len(part[1])) == 0:
            raise ValueError(f"{spec.experiment} seed {seed}: select needs 2 episodes or more")
        at = {w: torch.tensor(part[0][w].to_numpy(), dtype=torch.float64) for w in table.columns}
        widths = sorted((w for w in spec.widths if w in at and w < full), reverse=True)
        for tol in spec.tolerances:
            kw = {"confidence": spec.confidence, "method": "bootstrap"}
            pick, tested = choose(at[full], [(w, at[w]) for w in widths], tol, **kw)
            ref = float(at[full].mean())
            n = len(at[full])
            sel = Selection(pick, "return", ref, tol, True, spec.confidence, "bootstrap", n, tested)
            width = pick or full
            check = [float(part[1][width].mean()), float(part[1][full].mean())]
            row = selected_row(
                spec, int(seed), sel, width, float(at[width].mean()), check, "return"
            )
            found.append(row)
    write_csv(pd.DataFrame(found), out)


def plot_return(spec: PolicyFigure, *, curve: In, png: Out):
    """Normalised return against width (log2 axis), every model with its interval."""
    matplotlib.use("Agg")
    from tridrop.families.policy.figure import plot

    save(plot(read_csv(curve, analysis.CURVE_COLUMNS), spec.experiment), png)


def plot_complexity(spec: PolicyComplexity, *, tables: list[In], png: Out):
    """Every environment's task-complexity table as one figure (widths on a log2 axis)."""
    matplotlib.use("Agg")
    from tridrop.families.policy.figure import plot_complexity as draw

    table = pd.concat([read_csv(t, analysis.TABLE_COLUMNS) for t in tables], ignore_index=True)
    save(draw(table, spec.width), png)


def plot_iqm(spec: PolicyAggregate, *, table: In, png: Out):
    """The IQM of normalised return over every environment against width, with intervals."""
    matplotlib.use("Agg")
    from tridrop.families.policy.figure import plot

    found = read_csv(table, analysis.IQM_COLUMNS)
    curve = found.drop(columns="mean").rename(columns={"iqm": "mean"})
    title = f"IQM over {found['environments'].max()} environments, {found['runs'].max()} runs"
    save(plot(curve, title, "IQM of normalised return"), png)


def trajectory(spec: PolicyTrajectory, *, model: In, expert: In, out: Out):
    """The first evaluation episode of the student cut to each width and of the expert: every
    step's observation (columns ``obs0``, ``obs1``, ...), the trajectory figure's data."""
    net, meta, info = load_student(model)
    _check_env(model, info, spec.env.env)
    agent, _, expert_info = load_expert(expert)
    _check_env(expert, expert_info, spec.env.env)
    hidden = meta["arch"]["model"]["hidden"]
    too_wide = [w for w in spec.widths if w > hidden]
    if too_wide:
        raise ValueError(f"{model}: a student of {hidden} units; spec.widths {too_wide} exceed it")
    seed = [spec.env.eval_seed]
    policies = [("expert", 0, agent.act)]
    policies += [(spec.rows.model, w, greedy(narrow(net, w), info.discrete)) for w in spec.widths]
    frames = []
    for name, w, policy in policies:
        returns, _, path = run_episodes(policy, info, seed, spec.env.max_steps, trace=info.obs_dim)
        obs = pd.DataFrame(path, columns=[f"obs{i}" for i in range(info.obs_dim)])
        obs.insert(0, "step", range(len(obs)))
        obs.insert(0, "return", returns[0])
        obs.insert(0, "width", w)
        obs.insert(0, "model", name)
        obs.insert(0, "env", info.env)
        obs.insert(0, "experiment", spec.rows.experiment)
        frames.append(obs)
        log.info("%s width %d: return %.2f in %d steps", name, w, returns[0], len(obs))
    write_csv(pd.concat(frames, ignore_index=True), out)


def plot_trajectory(spec: PolicyFigure, *, trajectory: In, png: Out):
    """A physical quantity (e.g. CartPole's pole angle) over one episode at a few widths."""
    matplotlib.use("Agg")
    from tridrop.families.policy.figure import plot_trajectory as draw

    save(draw(read_csv(trajectory, ["model", "width", "step", "env"]), spec.experiment), png)


VERBS = (
    "select",
    "expert",
    "train",
    "sweep",
    "baselines",
    "table",
    "claims",
    "iqm",
    "plot_return",
    "plot_iqm",
    "plot_complexity",
    "trajectory",
    "plot_trajectory",
)
