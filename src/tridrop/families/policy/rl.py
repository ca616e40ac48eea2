"""Environments, the PPO expert and closed-loop rollouts (Gymnasium, imported here only).

PPO with TD in the actor (issue 23, part B): the actor is a student network whose TD layers
mask each sample at its environment's width for the episode (:class:`EpisodeWidths`), in the
rollout and in the update alike, so every width is trained on-policy.

A small PPO of our own, in the manner of CleanRL's single-file agents: vectorised environments
(``SyncVectorEnv``, same-step autoreset so a finished episode's last observation is at hand),
clipped surrogate, GAE, advantage normalisation per minibatch, linear learning-rate annealing;
a categorical policy for discrete actions, a Gaussian one (state-independent log std, actions
clipped to the bounds by the environment step) for continuous ones. A time limit is not a
terminal state: a truncated episode's last reward is bootstrapped with the critic's value.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal

from tridrop.dropout import TriangularDropout, sample_fractions
from tridrop.families.policy.specs import PPOSpec
from tridrop.files import safe_load, save_torch

log = logging.getLogger(__name__)

# obs (B, obs_dim) float32 -> actions for the environments: (B,) int64 or (B, act_dim) float32
Policy = Callable[[torch.Tensor], torch.Tensor]


def gym():
    """Gymnasium, or a one-line reason why the policy family cannot run without it."""
    try:
        import gymnasium
    except ImportError:
        raise RuntimeError(
            "the policy family needs gymnasium: pip install -e '.[pipeline]'"
        ) from None
    return gymnasium


def make_env(env_id: str, max_steps: int | None = None):
    """One environment; an unknown id is a ValueError naming it."""
    g = gym()
    try:
        return g.make(env_id, **({"max_episode_steps": max_steps} if max_steps else {}))
    except g.error.Error as err:
        raise ValueError(f"environment {env_id!r}: {err}") from None


@dataclass(frozen=True)
class EnvInfo:
    """What a policy needs to know of an environment's spaces."""

    env: str
    obs_dim: int
    act_dim: int  # actions (discrete) or action dimensions (continuous)
    discrete: bool
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()

    @classmethod
    def of(cls, env_id: str, max_steps: int | None = None) -> EnvInfo:
        g = gym()
        env = make_env(env_id, max_steps)
        obs, act = env.observation_space, env.action_space
        env.close()
        if not isinstance(obs, g.spaces.Box) or len(obs.shape) != 1:
            raise ValueError(f"{env_id}: observations must be a flat vector, got {obs}")
        if isinstance(act, g.spaces.Discrete):
            return cls(env_id, obs.shape[0], int(act.n), True)
        if isinstance(act, g.spaces.Box) and len(act.shape) == 1:
            low, high = act.low.astype(float).tolist(), act.high.astype(float).tolist()
            return cls(env_id, obs.shape[0], act.shape[0], False, tuple(low), tuple(high))
        raise ValueError(f"{env_id}: actions must be discrete or a flat box, got {act}")

    def clip(self, action: torch.Tensor) -> torch.Tensor:
        """Continuous actions clipped to the action bounds (discrete ones unchanged)."""
        if self.discrete:
            return action
        low = torch.tensor(self.low, dtype=action.dtype, device=action.device)
        high = torch.tensor(self.high, dtype=action.dtype, device=action.device)
        return torch.maximum(torch.minimum(action, high), low)


def _layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


def _mlp(n_in: int, hidden: int, n_out: int, gain: float) -> nn.Sequential:
    return nn.Sequential(
        _layer(n_in, hidden, math.sqrt(2)),
        nn.Tanh(),
        _layer(hidden, hidden, math.sqrt(2)),
        nn.Tanh(),
        _layer(hidden, n_out, gain),
    )


def forward_at(net: nn.Module, x: torch.Tensor, fraction: torch.Tensor | None) -> torch.Tensor:
    """``net(x)`` with each sample's width ``fraction`` given to its TD layers (in training
    mode; ``None``: the network's own forward)."""
    if fraction is None:
        return net(x)
    for m in net:
        x = m(x, fraction) if isinstance(m, TriangularDropout) else m(x)
    return x


class Agent(nn.Module):
    """An actor and a critic: two tanh MLPs of ``hidden`` units each (the expert), or a given
    ``actor`` (a student network with TD layers: PPO with TD in the actor)."""

    def __init__(self, info: EnvInfo, hidden: int = 64, actor: nn.Module | None = None) -> None:
        super().__init__()
        self.discrete = info.discrete
        self.critic = _mlp(info.obs_dim, hidden, 1, 1.0)
        self.actor = actor if actor is not None else _mlp(info.obs_dim, hidden, info.act_dim, 0.01)
        if not info.discrete:
            self.log_std = nn.Parameter(torch.zeros(info.act_dim))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def dist(self, obs: torch.Tensor, fraction: torch.Tensor | None = None):
        out = forward_at(self.actor, obs, fraction)
        if self.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def log_prob(self, dist, action: torch.Tensor) -> torch.Tensor:
        lp = dist.log_prob(action)
        return lp if self.discrete else lp.sum(-1)

    def entropy(self, dist) -> torch.Tensor:
        e = dist.entropy()
        return e if self.discrete else e.sum(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action: the likeliest one, or the Gaussian's mean (unclipped)."""
        out = self.actor(obs)
        return out.argmax(-1) if self.discrete else out


class EpisodeWidths:
    """Each environment's width fraction for its current episode, for an actor with TD layers:
    triangle gives environment i of n the fraction (i+1)/n for good; the drawn modes draw a
    new fraction at each episode's start; without TD (or mode none) there are none."""

    def __init__(self, actor: nn.Module, n: int, generator: torch.Generator) -> None:
        tds = [m for m in actor.modules() if isinstance(m, TriangularDropout)]
        self.td = tds[0] if tds and tds[0].mode not in ("none", "dropout") else None
        self.gen = generator
        if self.td is None:
            self.now = None
        elif self.td.mode == "triangle":
            self.now = torch.arange(1, n + 1, dtype=torch.float64) / n
        else:
            self.now = torch.cat([self._draw() for _ in range(n)])

    def _draw(self) -> torch.Tensor:
        td = self.td
        return sample_fractions(1, td.mode, width=td.width, p=td.p, generator=self.gen)

    def restart(self, envs) -> None:
        """New fractions for the environments whose episode just ended (drawn modes)."""
        if self.td is not None and self.td.mode != "triangle":
            for i in envs:
                self.now[i] = self._draw()[0]


def ppo(
    agent: Agent,
    info: EnvInfo,
    cfg: PPOSpec,
    max_steps: int | None = None,
    checkpoint: str | Path | None = None,
    tag: str = "",
) -> list[dict]:
    """Train ``agent`` in place with PPO for ``cfg.timesteps`` steps; one record per iteration.

    ``checkpoint`` (written after every iteration, with ``tag``, the run's spec): a rerun of the
    same spec resumes at the last iteration (its environments start new episodes there, seeded
    by the iteration, so a resumed run is not bit-identical to an uninterrupted one).
    """
    g = gym()
    n, t = cfg.envs, cfg.rollout
    batch = n * t
    iterations = max(1, cfg.timesteps // batch)
    minibatch = max(1, batch // cfg.minibatches)
    opt = torch.optim.Adam(agent.parameters(), lr=cfg.ppo_lr, eps=1e-5)
    torch.manual_seed(cfg.expert_seed)
    history: list[dict] = []
    start = 0
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            state = safe_load(checkpoint)
        except ValueError as err:
            log.warning("%s; starting from iteration 0", err)
            state = None
        if state is not None and state.get("tag") == tag:
            agent.load_state_dict(state["agent"])
            opt.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["torch_rng"])
            history, start = state["history"], int(state["iteration"])
            log.info("resumed from %s at iteration %d/%d", checkpoint, start, iterations)
        elif state is not None:
            log.warning("%s was written by a run with other settings; starting fresh", checkpoint)
    envs = g.vector.SyncVectorEnv(
        [lambda: make_env(info.env, max_steps) for _ in range(n)],
        autoreset_mode=g.vector.AutoresetMode.SAME_STEP,
    )
    seed = cfg.expert_seed * 100003 + start * n  # new episodes on resuming, still seeded
    obs_np, _ = envs.reset(seed=seed)
    envs.action_space.seed(seed)
    obs = torch.as_tensor(obs_np, dtype=torch.float32)
    act_shape = () if info.discrete else (info.act_dim,)
    widths = EpisodeWidths(agent.actor, n, torch.Generator().manual_seed(seed))
    agent.train()  # TD layers mask by the fractions given (the critic has none)
    running = np.zeros(n)  # the current episodes' (unscaled) returns
    finished: list[float] = [r for h in history[-1:] for r in h.get("last_returns", [])]
    for it in range(start, iterations):
        t0 = time.perf_counter()
        lr = cfg.ppo_lr * (1.0 - it / iterations)
        for group in opt.param_groups:
            group["lr"] = lr
        b_obs = torch.zeros(t, n, info.obs_dim)
        b_act = torch.zeros(t, n, *act_shape, dtype=torch.long if info.discrete else torch.float32)
        b_logp, b_rew, b_done, b_val = (torch.zeros(t, n) for _ in range(4))
        b_frac = torch.ones(t, n, dtype=torch.float64)
        for step in range(t):
            if widths.now is not None:
                b_frac[step] = widths.now
            with torch.no_grad():
                dist = agent.dist(obs, widths.now)
                action = dist.sample()
                b_logp[step] = agent.log_prob(dist, action)
                b_val[step] = agent.value(obs)
            b_obs[step], b_act[step] = obs, action
            env_action = info.clip(action).numpy()
            obs_np, reward, term, trunc, extra = envs.step(env_action)
            running += reward
            reward = torch.as_tensor(reward, dtype=torch.float32) * cfg.reward_scale
            # A time limit is no terminal state: bootstrap the last reward with V(last obs).
            cut = np.flatnonzero(trunc & ~term)
            if len(cut):
                last = torch.as_tensor(np.stack(extra["final_obs"][cut]), dtype=torch.float32)
                with torch.no_grad():
                    reward[cut] += cfg.gamma * agent.value(last)
            done = term | trunc
            for i in np.flatnonzero(done):
                finished.append(float(running[i]))
                running[i] = 0.0
            widths.restart(np.flatnonzero(done))
            b_rew[step], b_done[step] = reward, torch.as_tensor(done, dtype=torch.float32)
            obs = torch.as_tensor(obs_np, dtype=torch.float32)
        with torch.no_grad():  # GAE; b_done[s]: the episode ended at step s
            advantages = torch.zeros(t, n)
            last_gae = torch.zeros(n)
            next_value = agent.value(obs)
            for s in reversed(range(t)):
                alive = 1.0 - b_done[s]
                nv = next_value if s == t - 1 else b_val[s + 1]
                delta = b_rew[s] + cfg.gamma * nv * alive - b_val[s]
                last_gae = delta + cfg.gamma * cfg.gae_lambda * alive * last_gae
                advantages[s] = last_gae
            returns = advantages + b_val
        flat = {
            "obs": b_obs.reshape(batch, -1),
            "act": b_act.reshape(batch, *act_shape),
            "logp": b_logp.reshape(batch),
            "adv": advantages.reshape(batch),
            "ret": returns.reshape(batch),
            "frac": b_frac.reshape(batch) if widths.now is not None else None,
        }
        stats = _update(agent, opt, flat, cfg, minibatch)
        recent = finished[-20:]
        record = {
            "iteration": it + 1,
            "steps": (it + 1) * batch,
            "return": float(np.mean(recent)) if recent else float("nan"),
            "episodes": len(finished),
            "seconds": time.perf_counter() - t0,
            **stats,
            "last_returns": recent,
        }
        history.append(record)
        log.info(
            "iteration %d/%d steps %d return %.2f (last %d episodes) policy %.4f value %.4f "
            "entropy %.3f (%.2fs)",
            it + 1,
            iterations,
            record["steps"],
            record["return"],
            len(recent),
            stats["policy_loss"],
            stats["value_loss"],
            stats["entropy"],
            record["seconds"],
        )
        if not all(math.isfinite(stats[k]) for k in ("policy_loss", "value_loss")):
            raise RuntimeError(f"PPO diverged in iteration {it + 1}: {stats}")
        if checkpoint is not None:
            save_torch(
                {
                    "agent": agent.state_dict(),
                    "optimizer": opt.state_dict(),
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                    "iteration": it + 1,
                    "tag": tag,
                },
                checkpoint,
            )
    envs.close()
    return history


def _update(agent: Agent, opt, flat: dict, cfg: PPOSpec, minibatch: int) -> dict:
    """PPO's epochs over one rollout: clipped surrogate, value regression, entropy bonus."""
    n = len(flat["obs"])
    totals = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "clip_fraction": 0.0}
    count = 0
    for _ in range(cfg.ppo_epochs):
        for idx in torch.randperm(n).split(minibatch):
            frac = flat["frac"][idx] if flat["frac"] is not None else None
            dist = agent.dist(flat["obs"][idx], frac)
            logp = agent.log_prob(dist, flat["act"][idx])
            ratio = (logp - flat["logp"][idx]).exp()
            adv = flat["adv"][idx]
            if len(idx) > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            surrogate = torch.max(
                -adv * ratio, -adv * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)
            ).mean()
            value_loss = 0.5 * (agent.value(flat["obs"][idx]) - flat["ret"][idx]).pow(2).mean()
            entropy = agent.entropy(dist).mean()
            loss = surrogate + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
            opt.step()
            totals["policy_loss"] += surrogate.item()
            totals["value_loss"] += value_loss.item()
            totals["entropy"] += entropy.item()
            totals["clip_fraction"] += ((ratio.detach() - 1).abs() > cfg.clip).float().mean().item()
            count += 1
    return {k: v / count for k, v in totals.items()}


@torch.no_grad()
def run_episodes(
    policy: Policy,
    info: EnvInfo,
    seeds: list[int],
    max_steps: int | None = None,
    keep_states: bool = False,
    trace: int | None = None,
) -> tuple[list[float], torch.Tensor | None, list[list[float]] | None]:
    """One episode per seed (``env.reset(seed=...)``), all stepped together, ``policy`` acting
    on every live one at once: (returns, the visited states if asked, the first ``trace``
    observation components of episode 0 at each step if asked)."""
    envs = [make_env(info.env, max_steps) for _ in seeds]
    obs = [env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)]
    if not info.discrete:
        for env, s in zip(envs, seeds, strict=True):
            env.action_space.seed(s)
    returns = [0.0] * len(seeds)
    alive = list(range(len(seeds)))
    states: list[np.ndarray] = []
    path: list[list[float]] | None = [] if trace is not None else None
    while alive:
        batch = np.stack([obs[i] for i in alive]).astype(np.float32)
        if keep_states:
            states.append(batch)
        if path is not None and alive[0] == 0:
            path.append(batch[0, :trace].astype(float).tolist())
        actions = info.clip(policy(torch.from_numpy(batch))).cpu().numpy()
        still = []
        for a, i in zip(actions, alive, strict=True):
            obs[i], reward, term, trunc, _ = envs[i].step(a)
            returns[i] += float(reward)
            if not (term or trunc):
                still.append(i)
        alive = still
    for env in envs:
        env.close()
    visited = torch.from_numpy(np.concatenate(states)) if keep_states else None
    return returns, visited, path


def collect(
    policy: Policy,
    info: EnvInfo,
    n_states: int,
    seed: int,
    max_steps: int | None = None,
    batch: int = 8,
) -> torch.Tensor:
    """``n_states`` states visited by ``policy``, from batches of ``batch`` episodes seeded
    ``seed, seed + 1, ...`` (the last batch's states cut at ``n_states``)."""
    found, total, k = [], 0, 0
    while total < n_states:
        _, states, _ = run_episodes(
            policy, info, list(range(seed + k, seed + k + batch)), max_steps, keep_states=True
        )
        found.append(states)
        total += len(states)
        k += batch
    return torch.cat(found)[:n_states]


def random_policy(info: EnvInfo, seed: int) -> Policy:
    """Uniformly random actions (the normalisation's lower end), from a seeded generator."""
    gen = torch.Generator().manual_seed(seed)

    def act(obs: torch.Tensor) -> torch.Tensor:
        if info.discrete:
            return torch.randint(info.act_dim, (len(obs),), generator=gen)
        low, high = torch.tensor(info.low), torch.tensor(info.high)
        return low + (high - low) * torch.rand(len(obs), info.act_dim, generator=gen)

    return act
