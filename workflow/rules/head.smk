# Classifier heads (VGG19 on ImageNet; a small VGG-style network on Fashion-MNIST; the digits
# stand-in): check the data or train the backbone, cache the features once, train TD heads and
# baselines on the cache, sweep widths, table, claims, figure.
# Specs and inputs: tridrop.families.head.workflow; commands: the jobs' signatures.
HEAD = WINGS["head"]


rule head_check:
    input:
        imagenet=HEAD.imagenet_copy,
        code=PIPE.code(HEAD.family, "check"),
    output:
        out=out("runs/{experiment}/imagenet.json"),
    log:
        logs("check_imagenet/{experiment}.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    params:
        spec=HEAD.imagenet_spec,
    shell:
        PIPE.command(HEAD.family, "check", prefix="")


rule head_backbone:
    input:
        data=HEAD.data,
        code=PIPE.code(HEAD.family, "backbone"),
    output:
        model=out("runs/{experiment}/backbone/model.pt"),
        meta=out("runs/{experiment}/backbone/model.json"),
    log:
        logs("heads/{experiment}/backbone.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_backbone.tsv")
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=HEAD.train_gpus,
    params:
        spec=HEAD.backbone_spec,
        checkpoint=work("{experiment}/backbone/checkpoint.pt"),
    shell:
        PIPE.command(HEAD.family, "backbone")


rule head_cache:
    input:
        unpack(HEAD.cache_input),
    output:
        out=directory(out("runs/{experiment}/features/{split}")),
    log:
        logs("features/{experiment}/{split}.log"),
    benchmark:
        logs("benchmarks/features_{experiment}_{split}.tsv")
    wildcard_constraints:
        experiment=HEAD.pattern,
        split="train|val",
    conda:
        CONDA_ENV
    threads: HEAD.cache_threads
    resources:
        gpu=HEAD.cache_gpus,
    params:
        spec=HEAD.cache_spec,
        data=lambda w, input: option("--data", input.get("data")),
        backbone=lambda w, input: option("--backbone", input.get("backbone")),
        work=work("features/{experiment}/{split}"),
    shell:
        PIPE.command(HEAD.family, "cache")


rule head_pretrained:
    input:
        unpack(HEAD.pretrained_input),
    output:
        model=out("runs/{experiment}/pretrained/model.pt"),
        meta=out("runs/{experiment}/pretrained/model.json"),
    log:
        logs("heads/{experiment}/pretrained.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    params:
        spec=HEAD.pretrained_spec,
        backbone=lambda w, input: option("--backbone", input.get("backbone")),
    shell:
        PIPE.command(HEAD.family, "pretrained", prefix="")


rule head_train:
    input:
        features=expand(rules.head_cache.output.out, split="train", allow_missing=True),
        init=HEAD.init,
        code=PIPE.code(HEAD.family, "train"),
    output:
        model=out("runs/{experiment}/{variant}/seed{seed}/model.pt"),
        meta=out("runs/{experiment}/{variant}/seed{seed}/model.json"),
    log:
        logs("heads/{experiment}/{variant}/seed{seed}.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_{variant}_seed{seed}.tsv")
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: HEAD.processes
    resources:
        gpu=HEAD.train_gpus,
    params:
        spec=HEAD.train_spec,
        launcher=HEAD.launcher,
        init=lambda w, input: option("--init", input.init),
        checkpoint=work("{experiment}/{variant}/seed{seed}/checkpoint.pt"),
    shell:
        PIPE.command(HEAD.family, "train", prefix="OMP_NUM_THREADS=1 {params.launcher}")


rule head_sweep:
    input:
        model=rules.head_train.output.model,
        features=expand(rules.head_cache.output.out, split="val", allow_missing=True),
        code=PIPE.code(HEAD.family, "sweep"),
    output:
        out=out("runs/{experiment}/{variant}/seed{seed}/sweep.csv"),
        params=out("runs/{experiment}/{variant}/seed{seed}/params.csv"),
    log:
        logs("sweep/{experiment}/{variant}/seed{seed}.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=HEAD.sweep_spec,
    shell:
        PIPE.command(HEAD.family, "sweep")


rule head_baselines:
    input:
        reference=HEAD.reference,
        train=expand(rules.head_cache.output.out, split="train", allow_missing=True),
        val=expand(rules.head_cache.output.out, split="val", allow_missing=True),
        code=PIPE.code(HEAD.family, "baselines"),
    output:
        out=out("runs/{experiment}/baselines/sweep.csv"),
        params=out("runs/{experiment}/baselines/params.csv"),
    log:
        logs("heads/{experiment}/baselines.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=HEAD.baselines_spec,
    shell:
        PIPE.command(HEAD.family, "baselines")


rule head_probe:
    input:
        train=expand(rules.head_cache.output.out, split="train", allow_missing=True),
        val=expand(rules.head_cache.output.out, split="val", allow_missing=True),
        code=PIPE.code(HEAD.family, "probe"),
    output:
        out=out("runs/{experiment}/linear_probe/seed{seed}/probe.csv"),
        params=out("runs/{experiment}/linear_probe/seed{seed}/probe_params.csv"),
    log:
        logs("heads/{experiment}/probe/seed{seed}.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=HEAD.probe_spec,
    shell:
        PIPE.command(HEAD.family, "probe")


rule head_finetune:
    input:
        reference=HEAD.reference,
        train=expand(rules.head_cache.output.out, split="train", allow_missing=True),
        val=expand(rules.head_cache.output.out, split="val", allow_missing=True),
        code=PIPE.code(HEAD.family, "finetune"),
    output:
        out=out("runs/{experiment}/finetuned/seed{seed}/finetuned.csv"),
        params=out("runs/{experiment}/finetuned/seed{seed}/finetuned_params.csv"),
    log:
        logs("heads/{experiment}/finetune/seed{seed}.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=HEAD.finetune_spec,
    shell:
        PIPE.command(HEAD.family, "finetune")


rule head_grid:
    input:
        models=HEAD.grid_models,
        features=expand(rules.head_cache.output.out, split="val", allow_missing=True),
        code=PIPE.code(HEAD.family, "grid"),
    output:
        out=report(
            out("tables/{experiment}_grid.csv"),
            caption="../report/grid.rst",
            category="{experiment}",
            subcategory="Tables",
        ),
    log:
        logs("tables/{experiment}_grid.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=HEAD.grid_spec,
    shell:
        PIPE.command(HEAD.family, "grid")


rule head_paired:
    input:
        models=HEAD.grid_models,
        others=HEAD.paired_others,
        reference=HEAD.reference,
        train=expand(rules.head_cache.output.out, split="train", allow_missing=True),
        val=expand(rules.head_cache.output.out, split="val", allow_missing=True),
        code=PIPE.code(HEAD.family, "paired"),
    output:
        out=out("tables/{experiment}_paired.csv"),
    log:
        logs("tables/{experiment}_paired.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=HEAD.paired_spec,
    shell:
        PIPE.command(HEAD.family, "paired")


# The width tridrop.select picks for the claims' heads at 1% and 5% of full width's top-1
# (95% confidence), chosen on the even test images, checked on the odd ones.
rule head_select:
    input:
        models=HEAD.grid_models,
        features=expand(rules.head_cache.output.out, split="val", allow_missing=True),
        code=PIPE.code(HEAD.family, "select"),
    output:
        out=out("tables/{experiment}_select.csv"),
    log:
        logs("tables/{experiment}_select.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=HEAD.select_spec,
    shell:
        PIPE.command(HEAD.family, "select")


# The gap report: each head serving every width against no TD (full width) and the heads
# trained at each width, in top-1 error, and its training cost.
rule head_gap:
    input:
        sweeps=rules.collect.output.out,
        meta=HEAD.gap_meta,
        code=PIPE.code(HEAD.family, "gap"),
    output:
        out=out("tables/{experiment}_gap.csv"),
    log:
        logs("gap/{experiment}.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    params:
        spec=HEAD.gap_spec,
    shell:
        PIPE.command(HEAD.family, "gap", prefix="")


rule head_plot_grid:
    input:
        grid=rules.head_grid.output.out,
        code=PIPE.code(HEAD.family, "plot_grid"),
    output:
        png=report(
            out("figures/{experiment}_grid.png"),
            caption="../report/grid.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf=out("figures/{experiment}_grid.pdf"),
    log:
        logs("figures/{experiment}_grid.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    params:
        spec=HEAD.table_spec,
    shell:
        PIPE.command(HEAD.family, "plot_grid", prefix="")


rule head_table:
    input:
        sweeps=rules.collect.output.out,
        params=HEAD.params,
        code=PIPE.code(HEAD.family, "table"),
    output:
        out=report(
            out("tables/{experiment}_accuracy_vs_params.csv"),
            caption="../report/accuracy_table.rst",
            category="{experiment}",
            subcategory="Tables",
        ),
    log:
        logs("tables/{experiment}_accuracy_vs_params.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    params:
        spec=HEAD.table_spec,
    shell:
        PIPE.command(HEAD.family, "table", prefix="")


rule head_claims:
    input:
        table=rules.head_table.output.out,
        sweeps=rules.collect.output.out,
        code=PIPE.code(HEAD.family, "claims"),
    output:
        out=out("claims/{experiment}.csv"),
    log:
        logs("claims/{experiment}.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    params:
        spec=HEAD.claims_spec,
    shell:
        PIPE.command(HEAD.family, "claims", prefix="")


rule head_plot_accuracy:
    input:
        table=rules.head_table.output.out,
        code=PIPE.code(HEAD.family, "plot_accuracy"),
    output:
        png=report(
            out("figures/{experiment}_accuracy_vs_params.png"),
            caption="../report/accuracy_vs_params.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf=out("figures/{experiment}_accuracy_vs_params.pdf"),
    log:
        logs("figures/{experiment}_accuracy_vs_params.log"),
    wildcard_constraints:
        experiment=HEAD.pattern,
    conda:
        CONDA_ENV
    params:
        spec=HEAD.figure_spec,
    shell:
        PIPE.command(HEAD.family, "plot_accuracy", prefix="")


# The family alone: `snakemake heads`.
rule heads:
    input:
        HEAD.targets(),
