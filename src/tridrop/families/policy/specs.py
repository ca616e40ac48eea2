"""Specs of the policy family: each setting once, with its default, bounds and doc.

:data:`EXPERIMENT` is a config section (``presets.<p>.policies.<name>``, one environment): the
union of the job specs' settings; :func:`job_specs` builds every job spec it implies, which is
how the config is checked. Gymnasium is not imported here (the config check runs without it):
the environments are a fixed list of ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tridrop.specs import (
    MISSING,
    NAME,
    TRAIN_FIXED,
    Experiment,
    Rows,
    Spec,
    SpecError,
    TDSpec,
    TrainSpec,
    _check,
    check_hidden_widths,
    pick,
    rekey,
    section,
    setting,
    variant,
    within,
)

# Gymnasium's classic-control environments, discrete (categorical policy) and continuous
# actions (Gaussian policy), and MuJoCo's (the `mujoco` wheel, headless; continuous actions).
ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "Hopper-v5",
)


@dataclass(frozen=True)
class EnvSpec(Spec):
    """An environment and how policies are scored on it."""

    env: str = setting(MISSING, "Gymnasium environment id (classic control, MuJoCo)", choices=ENVS)
    max_steps: int | None = setting(
        None, "cap on an episode's steps (null: the environment's own limit)", ge=1
    )
    eval_episodes: int = setting(
        20, "episodes of each evaluation (the expert, a random policy, each width)", ge=1
    )
    eval_seed: int = setting(
        100000,
        "seed of the first evaluation episode (episode i: eval_seed + i; the same start states "
        "for every model and width, apart from every training seed)",
        ge=0,
    )


@dataclass(frozen=True)
class PPOSpec(Spec):
    """The expert: PPO (clipped surrogate, GAE) on vectorised environments, separate actor and
    critic MLPs of two ``expert_hidden``-wide tanh layers."""

    timesteps: int = setting(100000, "environment steps of the expert's training", ge=1)
    envs: int = setting(8, "parallel environments (gymnasium SyncVectorEnv)", ge=1)
    rollout: int = setting(128, "steps per environment between two updates", ge=1)
    ppo_epochs: int = setting(10, "passes over each rollout", ge=1)
    minibatches: int = setting(4, "minibatches per pass", ge=1)
    ppo_lr: float = setting(3e-4, "Adam's learning rate, annealed linearly to 0", gt=0)
    gamma: float = setting(0.99, "discount", gt=0, le=1)
    gae_lambda: float = setting(0.95, "GAE's lambda", ge=0, le=1)
    clip: float = setting(0.2, "PPO's clipping range", gt=0)
    ent_coef: float = setting(0.0, "entropy bonus", ge=0)
    vf_coef: float = setting(0.5, "weight of the value loss", ge=0)
    max_grad_norm: float = setting(0.5, "gradient clipping norm", gt=0)
    reward_scale: float = setting(
        1.0, "rewards are multiplied by this in training (Pendulum's are -16..0)", gt=0
    )
    expert_hidden: int = setting(64, "width of the expert's hidden layers", ge=1)
    expert_seed: int = setting(0, "seed of the expert (its initialisation and environments)", ge=0)


@dataclass(frozen=True)
class ExpertJob(Spec):
    """An expert's training. Policies run on the CPU: small networks, acting one environment
    step at a time (the pipeline's device setting does not apply)."""

    env: EnvSpec
    ppo: PPOSpec


@dataclass(frozen=True)
class StudentModel(TDSpec):
    """The student: ``obs - hidden - hidden - actions``, ReLU, a TD layer after each hidden
    layer, both sharing each sample's width fraction.

    256 units by default: four times the experts' 64, so that full width is never the
    bottleneck and a log-spaced sweep 1, 2, ..., 256 runs from far too narrow to ample in nine
    steps, while a student's forward pass stays cheap on a CPU (closed-loop evaluation runs
    it once per environment step)."""

    hidden: int = setting(256, "width of both hidden layers", ge=1)


@dataclass(frozen=True)
class Dagger(Spec):
    """Distillation: behaviour cloning on expert states, then DAgger rounds (the student acts,
    the expert labels the states it visits, the sets are aggregated, training continues)."""

    bc_states: int = setting(
        10000, "states of the expert's own (deterministic) rollouts, labelled by it", ge=1
    )
    dagger_rounds: int = setting(2, "DAgger rounds after behaviour cloning (0: BC only)", ge=0)
    dagger_states: int = setting(5000, "student-visited states labelled per DAgger round", ge=1)


@dataclass(frozen=True)
class Learning(Spec):
    """How a student learns: an experiment's setting (part B's experiments: every variant,
    the fixed-width and no-TD agents too) that a variant may change."""

    rl: bool = setting(
        False,
        "learn by PPO itself, TD in the actor (issue 23, part B: each environment's episode at "
        "one width), instead of being distilled from the expert",
    )


@dataclass(frozen=True)
class StudentTrain(Spec):
    """A student's training: its network, the optimisation of each round (``train.epochs``
    passes over the aggregated set per round), the distillation and the environment; with
    ``rl``, PPO (``ppo``, seeded by ``train.seed``) trains the network as its actor instead."""

    model: StudentModel
    train: TrainSpec
    dagger: Dagger
    env: EnvSpec
    rl: bool = False
    ppo: PPOSpec | None = None

    def check(self) -> None:
        _check(not self.rl or self.ppo is not None, "ppo", None, "PPO's settings for rl")


@dataclass(frozen=True)
class PolicySweep(Spec):
    """Deterministic closed-loop return at ``widths`` (a student narrower than ``width``: at its
    own width only; one trained without TD: at full width only, its cuts are the baselines)."""

    rows: Rows
    width: int
    env: EnvSpec
    widths: tuple[int, ...] = setting(
        (), "widths of the sweep (empty: 1, 2, 4, ..., hidden)", ge=1, unique=True
    )

    def check(self) -> None:
        within(self.width, "widths", self.widths)


@dataclass(frozen=True)
class PolicyBaselines(Spec):
    """The no-TD student of one seed cut at each width (zero-filled: ``notd_cut``), and the same
    with its hidden units first sorted by importance on expert states (``notd_sorted``)."""

    rows: Rows
    width: int
    env: EnvSpec
    widths: tuple[int, ...] = ()
    rank_states: int = setting(
        2000, "expert states that score the no-TD student's units for sorting", ge=1
    )


@dataclass(frozen=True)
class PolicyClaims(Spec):
    """Pre-registered thresholds (set before the run), each with its reason."""

    model: str = setting("td", "the variant the claims measure")
    level: float = setting(
        0.9,
        "share of the full-width return a width must reach (the issue's 90%)",
        gt=0,
        le=1,
    )
    fixed_ratio: float = setting(
        2.0,
        "TD's smallest width reaching the level is at most this times the students trained at "
        "one width (one network for every width costs at most a doubling)",
        ge=1,
    )
    half: float = setting(
        0.5,
        "TD's smallest width reaching the level is at most this share of full width (the cut "
        "no-TD student, its control, needs full width)",
        gt=0,
        le=1,
    )
    full: float = setting(
        0.9,
        "TD's full-width normalised return is at least this (distillation kept the expert's "
        "skill despite the dropout)",
        le=1,
    )


@dataclass(frozen=True)
class PolicyAnalysis(Spec):
    """The task-complexity table and the claims of one experiment, from per-episode returns:
    each model's smallest width whose mean normalised return reaches ``levels`` times the
    full-width return of the student trained without TD (one level for every model), with
    bootstrap intervals over seeds and episodes."""

    experiment: str
    width: int
    levels: tuple[float, ...] = setting(
        (0.9, 0.95), "shares of the full-width return of the complexity table", gt=0, le=1
    )
    boot: int = setting(1000, "bootstrap resamples (seeds, then episodes)", ge=10)
    boot_seed: int = setting(0, "seed of the bootstrap", ge=0)
    claims: PolicyClaims = field(default_factory=PolicyClaims)


@dataclass(frozen=True)
class PolicyAggregate(Spec):
    """Every environment of a preset together: per model and width, the interquartile mean of
    the runs' normalised returns with a stratified bootstrap interval (rliable's method)."""

    boot: int = setting(1000, "bootstrap resamples (seeds per environment, then episodes)", ge=10)
    boot_seed: int = setting(0, "seed of the bootstrap", ge=0)


@dataclass(frozen=True)
class PolicyComplexity(Spec):
    """Every environment's task-complexity table as one figure."""

    width: int = setting(MISSING, 'the widest full width ("never" is drawn right of it)', ge=1)


@dataclass(frozen=True)
class PolicyFigure(Spec):
    experiment: str = ""


@dataclass(frozen=True)
class PolicyTrajectory(Spec):
    """One evaluation episode (the first) of a student cut to each of ``widths``, and of the
    expert: the observations at every step (the trajectory figure)."""

    rows: Rows
    env: EnvSpec
    widths: tuple[int, ...] = setting(MISSING, "widths of the student shown", ge=1, min_items=1)


DEFAULT_VARIANTS = {"td": {"mode": "triangle"}, "notd": {"mode": "none"}}
# Settings a variant may change: its TD layer, its epochs, whether PPO trains it.
VARIANT_KEYS = ("mode", "p", "epochs", "rl")
_NOT_SETTINGS = ("mode", "p", "seed", "device", "deterministic")


class _Checked(Experiment):
    """A policy experiment checks its widths and its claims' model together."""

    def check(self) -> None:
        check_hidden_widths(self)
        # The reference level of the table and the no-TD cuts come from the notd student.
        _check("notd" in self.variants, "variants", sorted(self.variants), "a notd variant")


PolicyExperiment = section(
    "PolicyExperiment",
    "One environment: its expert, the students distilled from it, their sweeps and claims.",
    (EnvSpec, PPOSpec, StudentModel, Dagger, Learning, TrainSpec, PolicySweep, PolicyBaselines),
    (
        "epochs",
        int,
        setting(20, "passes over the aggregated state set in each round (BC, each DAgger)", ge=1),
    ),
    (
        "batch_size",
        int,
        setting(256, "states per step (>= hidden: the triangle trains every width)", ge=1),
    ),
    ("levels", tuple[float, ...], setting((0.9, 0.95), "complexity table's shares", gt=0, le=1)),
    ("boot", int, setting(1000, "bootstrap resamples of the table and the claims", ge=10)),
    ("claims", PolicyClaims, setting(PolicyClaims(), "pre-registered thresholds")),
    (
        "variants",
        dict,
        setting(
            DEFAULT_VARIANTS,
            "named variants: settings that differ from the experiment's (notd is needed: the "
            "reference level and the cuts)",
            pattern=NAME,
            min_items=1,
        ),
    ),
    exclude=_NOT_SETTINGS,
    base=_Checked,
)


def _variant(exp: Any, name: str) -> dict:
    settings = variant(exp, name, "hidden")
    settings.pop("init", None)  # the students have no reference to start from
    unknown = sorted(set(settings) - set(VARIANT_KEYS) - {"hidden"})
    if unknown:
        raise SpecError(f"spec: unknown key(s) {unknown}; allowed: {list(VARIANT_KEYS)}")
    return settings


def sweep_widths(exp: Any) -> tuple[int, ...]:
    """The swept widths: the configured ones, or 1, 2, 4, ..., hidden."""
    if exp.widths:
        return tuple(sorted(exp.widths))
    from tridrop.width import nested_widths

    return tuple(nested_widths(exp.hidden))


def env_spec(exp: Any) -> EnvSpec:
    return pick(EnvSpec, exp)


def expert_spec(exp: Any) -> ExpertJob:
    return ExpertJob(env_spec(exp), pick(PPOSpec, exp))


def train_spec(exp: Any, name: str, **fixed: Any) -> StudentTrain:
    """The training spec of variant ``name``: its student, the experiment's training settings
    (a variant may train other epochs) with ``fixed`` (seed, device), the distillation."""
    settings = _variant(exp, name)
    train = pick(TrainSpec, exp, {k: v for k, v in settings.items() if k == "epochs"}, **fixed)
    model = pick(StudentModel, exp, settings)
    if not pick(Learning, exp, settings).rl:
        return StudentTrain(model, train, pick(Dagger, exp), env_spec(exp))
    ppo = pick(PPOSpec, exp, expert_seed=train.seed)
    return StudentTrain(model, train, pick(Dagger, exp), env_spec(exp), True, ppo)


def trajectory_widths(exp: Any) -> tuple[int, ...]:
    """Four of the swept widths for the trajectory figure: the narrowest, two between (log
    spaced) and full width."""
    widths = sweep_widths(exp)
    n = len(widths) - 1
    return tuple(sorted({widths[0], widths[n // 3], widths[2 * n // 3], widths[-1]}))


def notes(name: str, exp: Any) -> list[str]:
    """What a researcher should know before a run that is not an error: swept widths the
    triangle mask never trains (batch_size < hidden trains only some widths)."""
    from tridrop.dropout import triangle_widths

    trained = triangle_widths(exp.hidden, exp.batch_size)
    never = [w for w in sweep_widths(exp) if w not in trained]
    return [
        f"note: policies.{name}.variants.{v}: the triangle mask never trains widths {never} "
        f"(batch_size {exp.batch_size} < hidden {exp.hidden}); batch_size >= hidden trains all"
        for v in exp.variants
        if never and pick(StudentModel, exp, _variant(exp, v)).mode == "triangle"
    ]


def analysis_spec(name: str, exp: Any) -> PolicyAnalysis:
    return PolicyAnalysis(name, exp.hidden, tuple(exp.levels), exp.boot, 0, exp.claims)


def job_specs(name: str, exp: Any) -> list[Spec]:
    """One of each job spec of experiment ``name``: building them checks the section."""
    out: list[Spec] = [expert_spec(exp)]
    for v in [*exp.variants, *(f"fixed{w}" for w in exp.fixed_widths)]:
        try:
            out.append(train_spec(exp, v))
        except SpecError as err:
            raise rekey(err, f"variants.{v}") from None
    widths = sweep_widths(exp)
    out.append(PolicySweep(Rows(name, "td"), exp.hidden, env_spec(exp), widths))
    out.append(analysis_spec(name, exp))
    return out


EXPERIMENT = PolicyExperiment
VARIANT = section(
    "PolicyVariant",
    "The settings a variant may change.",
    (StudentModel, TrainSpec, Learning),
    exclude=("hidden", *TRAIN_FIXED),
    base=Spec,
)
