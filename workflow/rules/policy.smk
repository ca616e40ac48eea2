# Variable-width policies (the paper's RL experiment): a PPO expert per environment, students
# with TD distilled from it (behaviour cloning, DAgger), their return at every width, the no-TD
# cuts, the task-complexity table, claims, figure.
# Specs and inputs: tridrop.families.policy.workflow; commands: the jobs' signatures.
POLICY = WINGS["policy"]


rule policy_expert:
    input:
        code=PIPE.code(POLICY.family, "expert"),
    output:
        model=out("runs/{experiment}/expert/model.pt"),
        meta=out("runs/{experiment}/expert/model.json"),
    log:
        logs("policies/{experiment}/expert.log"),
    benchmark:
        logs("benchmarks/expert_{experiment}.tsv")
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=POLICY.expert_spec,
        checkpoint=work("{experiment}/expert/checkpoint.pt"),
    shell:
        PIPE.command(POLICY.family, "expert", prefix="OMP_NUM_THREADS=1 ")


rule policy_train:
    input:
        expert=rules.policy_expert.output.model,
        code=PIPE.code(POLICY.family, "train"),
    output:
        model=out("runs/{experiment}/{variant}/seed{seed}/model.pt"),
        meta=out("runs/{experiment}/{variant}/seed{seed}/model.json"),
    log:
        logs("policies/{experiment}/{variant}/seed{seed}.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_{variant}_seed{seed}.tsv")
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=POLICY.train_spec,
        checkpoint=work("{experiment}/{variant}/seed{seed}/checkpoint.pt"),
    shell:
        PIPE.command(POLICY.family, "train", prefix="OMP_NUM_THREADS=1 ")


rule policy_sweep:
    input:
        model=rules.policy_train.output.model,
        expert=rules.policy_expert.output.model,
        code=PIPE.code(POLICY.family, "sweep"),
    output:
        out=out("runs/{experiment}/{variant}/seed{seed}/sweep.csv"),
        episodes=out("runs/{experiment}/{variant}/seed{seed}/episodes.csv"),
    log:
        logs("sweep/{experiment}/{variant}/seed{seed}.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=POLICY.sweep_spec,
    shell:
        PIPE.command(POLICY.family, "sweep", prefix="OMP_NUM_THREADS=1 ")


rule policy_baselines:
    input:
        model=POLICY.notd,
        expert=rules.policy_expert.output.model,
        code=PIPE.code(POLICY.family, "baselines"),
    output:
        out=out("runs/{experiment}/baselines/seed{seed}/cuts.csv"),
        episodes=out("runs/{experiment}/baselines/seed{seed}/cut_episodes.csv"),
    log:
        logs("policies/{experiment}/baselines/seed{seed}.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=POLICY.baselines_spec,
    shell:
        PIPE.command(POLICY.family, "baselines", prefix="OMP_NUM_THREADS=1 ")


rule policy_table:
    input:
        episodes=POLICY.episodes,
        code=PIPE.code(POLICY.family, "table"),
    output:
        out=report(
            out("tables/{experiment}_complexity.csv"),
            caption="../report/complexity.rst",
            category="{experiment}",
            subcategory="Tables",
        ),
        curve=out("tables/{experiment}_return_curve.csv"),
    log:
        logs("tables/{experiment}_complexity.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    params:
        spec=POLICY.analysis_spec,
    shell:
        PIPE.command(POLICY.family, "table", prefix="")


# The width tridrop.select picks for the claims' students at 1% and 5% of full width's
# normalised return (95% confidence), chosen on the even evaluation episodes, checked on the odd.
rule policy_select:
    input:
        episodes=POLICY.select_episodes,
        code=PIPE.code(POLICY.family, "select"),
    output:
        out=out("tables/{experiment}_select.csv"),
    log:
        logs("tables/{experiment}_select.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    params:
        spec=POLICY.select_spec,
    shell:
        PIPE.command(POLICY.family, "select")


rule policy_claims:
    input:
        episodes=POLICY.episodes,
        code=PIPE.code(POLICY.family, "claims"),
    output:
        out=out("claims/{experiment}.csv"),
    log:
        logs("claims/{experiment}.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    params:
        spec=POLICY.analysis_spec,
    shell:
        PIPE.command(POLICY.family, "claims", prefix="")


rule policy_plot_return:
    input:
        curve=rules.policy_table.output.curve,
        code=PIPE.code(POLICY.family, "plot_return"),
    output:
        png=report(
            out("figures/{experiment}_return_vs_width.png"),
            caption="../report/return_vs_width.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf=out("figures/{experiment}_return_vs_width.pdf"),
    log:
        logs("figures/{experiment}_return_vs_width.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    params:
        spec=POLICY.figure_spec,
    shell:
        PIPE.command(POLICY.family, "plot_return", prefix="")


# Every environment together, as RL papers report (rliable): the IQM of the runs' normalised
# returns per model and width, with stratified bootstrap intervals.
rule policy_iqm:
    input:
        episodes=POLICY.all_episodes,
        code=PIPE.code(POLICY.family, "iqm"),
    output:
        out=out("tables/iqm_return_curve.csv"),
    log:
        logs("tables/iqm_return_curve.log"),
    conda:
        CONDA_ENV
    params:
        spec=POLICY.aggregate_spec,
    shell:
        PIPE.command(POLICY.family, "iqm", prefix="")


rule policy_plot_iqm:
    input:
        table=rules.policy_iqm.output.out,
        code=PIPE.code(POLICY.family, "plot_iqm"),
    output:
        png=report(
            out("figures/iqm_return_vs_width.png"),
            caption="../report/iqm_return_vs_width.rst",
            category="every environment",
            subcategory="Width sweep",
        ),
        pdf=out("figures/iqm_return_vs_width.pdf"),
    log:
        logs("figures/iqm_return_vs_width.log"),
    conda:
        CONDA_ENV
    params:
        spec=POLICY.aggregate_spec,
    shell:
        PIPE.command(POLICY.family, "plot_iqm", prefix="")


# Every environment's task-complexity table as one figure.
rule policy_plot_complexity:
    input:
        tables=POLICY.complexity_tables,
        code=PIPE.code(POLICY.family, "plot_complexity"),
    output:
        png=report(
            out("figures/task_complexity.png"),
            caption="../report/task_complexity.rst",
            category="every environment",
            subcategory="Tables",
        ),
        pdf=out("figures/task_complexity.pdf"),
    log:
        logs("figures/task_complexity.log"),
    conda:
        CONDA_ENV
    params:
        spec=POLICY.complexity_spec,
    shell:
        PIPE.command(POLICY.family, "plot_complexity", prefix="")


# One evaluation episode of the claims' student (first seed) at a few widths and the expert.
rule policy_trajectory:
    input:
        model=POLICY.trajectory_model,
        expert=rules.policy_expert.output.model,
        code=PIPE.code(POLICY.family, "trajectory"),
    output:
        out=out("tables/{experiment}_trajectory.csv"),
    log:
        logs("tables/{experiment}_trajectory.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=POLICY.trajectory_spec,
    shell:
        PIPE.command(POLICY.family, "trajectory", prefix="OMP_NUM_THREADS=1 ")


rule policy_plot_trajectory:
    input:
        trajectory=rules.policy_trajectory.output.out,
        code=PIPE.code(POLICY.family, "plot_trajectory"),
    output:
        png=report(
            out("figures/{experiment}_trajectory.png"),
            caption="../report/trajectory.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf=out("figures/{experiment}_trajectory.pdf"),
    log:
        logs("figures/{experiment}_trajectory.log"),
    wildcard_constraints:
        experiment=POLICY.pattern,
    conda:
        CONDA_ENV
    params:
        spec=POLICY.figure_spec,
    shell:
        PIPE.command(POLICY.family, "plot_trajectory", prefix="")


# The family alone: `snakemake policies`.
rule policies:
    input:
        POLICY.targets(),
