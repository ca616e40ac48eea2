"""The policy family's networks and model files: the student with Triangular Dropout, the PPO
expert, the deterministic policies they define, and the importance sort of a no-TD student.

Student: ``Linear(obs, H) - ReLU - TD - Linear(H, H) - ReLU - TD - Linear(H, actions)``, the two
TD layers sharing each sample's width fraction (:class:`~tridrop.dropout.SharedWidth`), so
:func:`~tridrop.extract.narrow` cuts it to a dense ``obs - w - w - actions`` network. Its
output is the action's logits (discrete) or the action itself (continuous, clipped to the
bounds by the environment step).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from tridrop.dropout import SharedWidth, TriangularDropout
from tridrop.families.policy.rl import Agent, EnvInfo, Policy
from tridrop.families.policy.specs import StudentModel
from tridrop.files import load_model_file, load_weights
from tridrop.specs import load

STUDENT, EXPERT = "policy_student", "policy_expert"


def student(info: EnvInfo, model: StudentModel) -> SharedWidth:
    """The student network of ``model`` for the spaces of ``info``."""
    h = model.hidden
    return SharedWidth(
        nn.Linear(info.obs_dim, h),
        nn.ReLU(),
        TriangularDropout(h, model.mode, model.p),
        nn.Linear(h, h),
        nn.ReLU(),
        TriangularDropout(h, model.mode, model.p),
        nn.Linear(h, info.act_dim),
    )


def arch(kind: str, info: EnvInfo, **more) -> dict:
    """What a model file records: its kind, the environment's spaces, the typed spec."""
    return {"kind": kind, "env": asdict(info), **more}


def greedy(net: nn.Module, discrete: bool) -> Policy:
    """The deterministic policy of a student (any width): argmax of logits, or the output."""

    def act(obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            out = net(obs)
        return out.argmax(-1) if discrete else out

    return act


def _read(path: str | Path, kind: str) -> tuple[dict, dict, EnvInfo]:
    state, meta = load_model_file(path)
    found = (meta.get("arch") or {}).get("kind")
    if found != kind:
        what = "a policy student" if kind == STUDENT else "a PPO expert"
        raise ValueError(f"{path}: not {what} model file (its kind is {found!r})")
    env = meta["arch"]["env"]
    info = EnvInfo(**{**env, "low": tuple(env["low"]), "high": tuple(env["high"])})
    return state, meta, info


def load_student(path: str | Path) -> tuple[SharedWidth, dict, EnvInfo]:
    """A trained student (eval mode), its metadata and its environment's spaces."""
    state, meta, info = _read(path, STUDENT)
    net = student(info, load(StudentModel, meta["arch"]["model"]))
    load_weights(net, state, path)
    return net.eval(), meta, info


def load_expert(path: str | Path) -> tuple[Agent, dict, EnvInfo]:
    """A trained expert (eval mode), its metadata and its environment's spaces."""
    state, meta, info = _read(path, EXPERT)
    agent = Agent(info, int(meta["arch"]["hidden"]))
    load_weights(agent, state, path)
    return agent.eval(), meta, info


def hidden_linears(net: nn.Sequential) -> tuple[nn.Linear, nn.Linear, nn.Linear]:
    linears = [m for m in net if isinstance(m, nn.Linear)]
    if len(linears) != 3:
        raise ValueError(f"expected a student with 3 Linear layers, found {len(linears)}")
    return linears[0], linears[1], linears[2]


@torch.no_grad()
def sort_units(net: nn.Sequential, states: torch.Tensor) -> nn.Sequential:
    """A copy of the student with each hidden layer's units sorted by importance on
    ``states``, most important first (then a prefix cut keeps the most important units).

    A unit's score is its mean absolute activation times the L2 norm of its outgoing weights
    (the typical size of its contribution to the next layer; the heads' ranked cut uses the
    same magnitude criterion). The network's function is unchanged."""
    import copy

    net = copy.deepcopy(net).eval()
    l1, l2, l3 = hidden_linears(net)
    h1 = torch.relu(l1(states))
    h2 = torch.relu(l2(h1))
    o1 = torch.argsort(h1.abs().mean(0) * l2.weight.norm(dim=0), descending=True)
    o2 = torch.argsort(h2.abs().mean(0) * l3.weight.norm(dim=0), descending=True)
    l1.weight.copy_(l1.weight[o1])
    l1.bias.copy_(l1.bias[o1])
    l2.weight.copy_(l2.weight[o2][:, o1])
    l2.bias.copy_(l2.bias[o2])
    l3.weight.copy_(l3.weight[:, o2])
    return net
