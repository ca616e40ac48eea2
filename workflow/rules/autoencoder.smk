# Variable-size autoencoders: train every variant and seed (fixed<width> variants are the
# autoencoders trained at one width, the baseline TD avoids), sweep every latent width, PCA,
# PCAAE, no TD's training-free cuts, feature importance, dependence and order at the top,
# tables, claims, the gap report and the figures.
# Specs and inputs: tridrop.families.autoencoder.workflow; commands: the jobs' signatures.
AE = WINGS["autoencoder"]


rule ae_train:
    input:
        data=AE.data,
        code=PIPE.code(AE.family, "train"),
    output:
        model=out("runs/{experiment}/{variant}/seed{seed}/model.pt"),
        meta=out("runs/{experiment}/{variant}/seed{seed}/model.json"),
    log:
        logs("train/{experiment}/{variant}/seed{seed}.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_{variant}_seed{seed}.tsv")
    wildcard_constraints:
        experiment=AE.pattern,
        variant=AE.TRAINED,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1 if PIPE.use_gpu else 0,
    params:
        spec=AE.train_spec,
        checkpoint=work("{experiment}/{variant}/seed{seed}/checkpoint.pt"),
    shell:
        PIPE.command(AE.family, "train")


rule ae_sweep:
    input:
        model=rules.ae_train.output.model,
        data=AE.data,
        code=PIPE.code(AE.family, "sweep"),
    output:
        out=out("runs/{experiment}/{variant}/seed{seed}/sweep.csv"),
        recon=out("runs/{experiment}/{variant}/seed{seed}/reconstructions.npz"),
    log:
        logs("sweep/{experiment}/{variant}/seed{seed}.log"),
    wildcard_constraints:
        experiment=AE.pattern,
        variant=AE.TRAINED,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=AE.sweep_spec,
    shell:
        PIPE.command(AE.family, "sweep")


# PCAAE: latent units trained one at a time (a stage per unit), swept with a decoder per width.
rule ae_pcaae:
    input:
        data=AE.data,
        code=PIPE.code(AE.family, "pcaae"),
    output:
        model=out("runs/{experiment}/pcaae/seed{seed}/model.pt"),
        meta=out("runs/{experiment}/pcaae/seed{seed}/model.json"),
        out=out("runs/{experiment}/pcaae/seed{seed}/sweep.csv"),
    log:
        logs("train/{experiment}/pcaae/seed{seed}.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_pcaae_seed{seed}.tsv")
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1 if PIPE.use_gpu else 0,
    params:
        spec=AE.pcaae_spec,
        checkpoint=work("{experiment}/pcaae/seed{seed}"),
    shell:
        PIPE.command(AE.family, "pcaae")


rule ae_baselines:
    input:
        data=AE.data,
        code=PIPE.code(AE.family, "baselines"),
    output:
        out=out("runs/{experiment}/baselines/sweep.csv"),
        recon=out("runs/{experiment}/baselines/reconstructions.npz"),
    log:
        logs("sweep/{experiment}/baselines.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=AE.baselines_spec,
    shell:
        PIPE.command(AE.family, "baselines")


rule ae_analyse:
    input:
        model=rules.ae_train.output.model,
        data=AE.data,
        code=PIPE.code(AE.family, "analyse"),
    output:
        importance=out("runs/{experiment}/{variant}/seed{seed}/importance.csv"),
        dependence=out("runs/{experiment}/{variant}/seed{seed}/dependence.csv"),
        order=out("runs/{experiment}/{variant}/seed{seed}/order.csv"),
    log:
        logs("features/{experiment}/{variant}/seed{seed}.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=AE.analysis_spec,
    shell:
        PIPE.command(AE.family, "analyse")


rule ae_table:
    input:
        importance=AE.importance,
        dependence=AE.dependence,
        order=AE.order,
        code=PIPE.code(AE.family, "table"),
    output:
        importance_out=out("tables/{experiment}_importance.csv"),
        dependence_out=out("tables/{experiment}_dependence.csv"),
        order_out=out("tables/{experiment}_order.csv"),
    log:
        logs("aggregate_features_{experiment}.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=NOTHING,
    shell:
        PIPE.command(AE.family, "table")


rule ae_claims:
    input:
        sweeps=rules.collect.output.out,
        importance=rules.ae_table.output.importance_out,
        dependence=rules.ae_table.output.dependence_out,
        order=rules.ae_table.output.order_out,
        code=PIPE.code(AE.family, "claims"),
    output:
        out=out("claims/{experiment}.csv"),
    log:
        logs("claims/{experiment}.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.claims_spec,
    shell:
        PIPE.command(AE.family, "claims")


# The width tridrop.select picks for the TD autoencoders at 1% and 5% of full width's test
# MSE (95% confidence), chosen on the even test images, checked on the odd ones.
rule ae_select:
    input:
        models=AE.select_models,
        data=AE.data,
        code=PIPE.code(AE.family, "select"),
    output:
        out=out("tables/{experiment}_select.csv"),
    log:
        logs("tables/{experiment}_select.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=AE.select_spec,
    shell:
        PIPE.command(AE.family, "select")


# The gap report: each variant's MSE against no TD (full width) and the fixed-width
# autoencoders (each width), and its training cost.
rule ae_gap:
    input:
        sweeps=rules.collect.output.out,
        meta=AE.gap_meta,
        code=PIPE.code(AE.family, "gap"),
    output:
        out=out("tables/{experiment}_gap.csv"),
    log:
        logs("gap/{experiment}.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.gap_spec,
    shell:
        PIPE.command(AE.family, "gap")


# Budget series (experiments that differ in their epochs alone): TD's price over each
# reference at each budget, the claims that training longer shrinks it, the learning curves.
rule ae_budget:
    input:
        sweeps=AE.budget_sweeps,
        meta=AE.budget_meta,
        code=PIPE.code(AE.family, "budget"),
    output:
        out=out("tables/{series}_budget.csv"),
        curves=out("tables/{series}_curves.csv"),
        claims=out("claims/{series}_budget.csv"),
    log:
        logs("budget/{series}.log"),
    wildcard_constraints:
        series=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.budget_spec,
    shell:
        PIPE.command(AE.family, "budget")


rule ae_plot_budget:
    input:
        table=rules.ae_budget.output.out,
        curves=rules.ae_budget.output.curves,
        code=PIPE.code(AE.family, "plot_budget"),
    output:
        png=report(
            out("figures/{series}_budget.png"),
            caption="../report/budget.rst",
            category="{series}",
            subcategory="Budget curves",
        ),
        pdf=out("figures/{series}_budget.pdf"),
    log:
        logs("figures/{series}_budget.log"),
    wildcard_constraints:
        series=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.budget_figure_spec,
    shell:
        PIPE.command(AE.family, "plot_budget")


# Learning-rate series (experiments that differ in their lr alone): each model at the rate
# of its lowest validation loss, TD's price at each rate, the claims at the chosen rates.
rule ae_lr:
    input:
        sweeps=AE.lr_sweeps,
        meta=AE.lr_meta,
        code=PIPE.code(AE.family, "learning_rates"),
    output:
        out=out("tables/{series}_lr.csv"),
        choice=out("tables/{series}_lr_choice.csv"),
        claims=out("claims/{series}_lr.csv"),
    log:
        logs("lr/{series}.log"),
    wildcard_constraints:
        series=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.lr_spec,
    shell:
        PIPE.command(AE.family, "learning_rates")


rule ae_plot_lr:
    input:
        table=rules.ae_lr.output.out,
        choice=rules.ae_lr.output.choice,
        code=PIPE.code(AE.family, "plot_learning_rates"),
    output:
        png=report(
            out("figures/{series}_lr.png"),
            caption="../report/lr.rst",
            category="{series}",
            subcategory="Learning rates",
        ),
        pdf=out("figures/{series}_lr.pdf"),
    log:
        logs("figures/{series}_lr.log"),
    wildcard_constraints:
        series=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.budget_figure_spec,
    shell:
        PIPE.command(AE.family, "plot_learning_rates")


rule ae_plot_sweep:
    input:
        sweeps=rules.collect.output.out,
        code=PIPE.code(AE.family, "plot_sweep"),
    output:
        png=report(
            out("figures/{experiment}_mse_vs_width.png"),
            caption="../report/mse_vs_width.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf=out("figures/{experiment}_mse_vs_width.pdf"),
    log:
        logs("figures/{experiment}_mse_vs_width.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.figure_spec,
    shell:
        PIPE.command(AE.family, "plot_sweep")


rule ae_plot_gap:
    input:
        table=rules.ae_gap.output.out,
        sweeps=rules.collect.output.out,
        code=PIPE.code(AE.family, "plot_gap"),
    output:
        png=report(
            out("figures/{experiment}_gap.png"),
            caption="../report/gap.rst",
            category="{experiment}",
            subcategory="Gap report",
        ),
        pdf=out("figures/{experiment}_gap.pdf"),
    log:
        logs("figures/{experiment}_gap.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.gap_figure_spec,
    shell:
        PIPE.command(AE.family, "plot_gap")


# One grid of every trained variant's reconstructions (first seed): a row per model.
rule ae_plot_reconstructions:
    input:
        recon=AE.first_seed_recon,
        code=PIPE.code(AE.family, "plot_reconstructions"),
    output:
        png=report(
            out("figures/{experiment}_reconstructions.png"),
            caption="../report/reconstructions.rst",
            category="{experiment}",
            subcategory="Reconstructions",
        ),
        pdf=out("figures/{experiment}_reconstructions.pdf"),
    log:
        logs("figures/{experiment}_reconstructions.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.recon_title,
    shell:
        PIPE.command(AE.family, "plot_reconstructions")


rule ae_plot_features:
    input:
        table=out("tables/{experiment}_{kind}.csv"),
        code=PIPE.code(AE.family, "plot_features"),
    output:
        png=report(
            out("figures/{experiment}_{kind}.png"),
            caption="../report/features.rst",
            category="{experiment}",
            subcategory="Features",
        ),
        pdf=out("figures/{experiment}_{kind}.pdf"),
    log:
        logs("figures/{experiment}_{kind}.log"),
    wildcard_constraints:
        kind="importance|dependence",
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.features_spec,
    shell:
        PIPE.command(AE.family, "plot_features")


# The dependence matrices of every analysed model (those of TD and no TD are in
# ae_plot_features' figure), where the experiment has other variants.
rule ae_plot_dependence_variants:
    input:
        table=rules.ae_table.output.dependence_out,
        code=PIPE.code(AE.family, "plot_features"),
    output:
        png=report(
            out("figures/{experiment}_dependence_variants.png"),
            caption="../report/dependence_variants.rst",
            category="{experiment}",
            subcategory="Features",
        ),
        pdf=out("figures/{experiment}_dependence_variants.pdf"),
    log:
        logs("figures/{experiment}_dependence_variants.log"),
    wildcard_constraints:
        experiment=AE.pattern,
    conda:
        CONDA_ENV
    params:
        spec=AE.dependence_variants_spec,
    shell:
        PIPE.command(AE.family, "plot_features")


# The family alone: `snakemake autoencoders` (needs no ImageNet copy).
rule autoencoders:
    input:
        AE.targets(),
