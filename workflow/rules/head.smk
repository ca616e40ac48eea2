# Classifier heads (VGG19 on ImageNet; the digits stand-in): check the data, cache the
# features once, train TD heads and baselines on the cache, sweep widths, table, claims.


rule check_imagenet:
    input:
        code=SRC,
    output:
        "results/{preset}/imagenet/{experiment}.json",
    log:
        "logs/{preset}/check_imagenet/{experiment}.log",
    conda:
        CONDA_ENV
    params:
        root=lambda w: imagenet_spec(w)["root"],
        layout=lambda w: imagenet_spec(w)["layout"],
        max_classes=lambda w: opt("--max-classes", imagenet_spec(w).get("max_classes")),
    shell:
        "tridrop check-imagenet --root {params.root} --layout {params.layout}"
        " {params.max_classes} --out {output} 2> {log}"


rule head_features:
    input:
        unpack(features_input),
    output:
        directory("results/{preset}/features/{experiment}/{split}"),
    log:
        "logs/{preset}/features/{experiment}/{split}.log",
    benchmark:
        "logs/{preset}/benchmarks/features_{experiment}_{split}.tsv"
    conda:
        CONDA_ENV
    threads: lambda w: 1 if head(w)["dataset"] == "digits" else workflow.cores
    resources:
        gpu=lambda w: 1 if USE_GPU and head(w)["dataset"] == "imagenet" else 0,
    params:
        source=lambda w: head(w)["dataset"],
        options=features_options,
        device=config["device"],
        # Shards wait here until the cache is complete, so a killed job resumes shard by shard.
        work="work/{preset}/features/{experiment}/{split}",
    shell:
        "OMP_NUM_THREADS={threads} tridrop cache-features --source {params.source}"
        " --split {wildcards.split} {params.options} --device {params.device}"
        " --work {params.work} --out {output} 2> {log}"


rule pretrained_head:
    input:
        manifest="results/{preset}/imagenet/{experiment}.json",
        code=SRC,
    output:
        model="results/{preset}/heads/{experiment}/pretrained/model.pt",
        meta="results/{preset}/heads/{experiment}/pretrained/model.json",
    log:
        "logs/{preset}/heads/{experiment}/pretrained.log",
    conda:
        CONDA_ENV
    params:
        weights=lambda w: imagenet_spec(w)["weights"],
        classes=lambda w: imagenet_spec(w).get("max_classes") or 1000,
        hidden=lambda w: head(w)["hidden"],
    shell:
        "tridrop pretrained-head --weights {params.weights} --classes {params.classes}"
        " --hidden {params.hidden} --out {output.model} 2> {log}"


rule train_head:
    input:
        features="results/{preset}/features/{experiment}/train",
        init=lambda w: (
            head_reference(w.preset, w.experiment)
            if head_variant(w)["init"] == "reference"
            else []
        ),
        code=SRC,
    output:
        model="results/{preset}/heads/{experiment}/{variant}/seed{seed}/model.pt",
        meta="results/{preset}/heads/{experiment}/{variant}/seed{seed}/model.json",
    log:
        "logs/{preset}/heads/{experiment}/{variant}/seed{seed}.log",
    benchmark:
        "logs/{preset}/benchmarks/train_{experiment}_{variant}_seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: lambda w: head(w)["processes"]
    resources:
        gpu=lambda w: head(w)["processes"] if USE_GPU else 0,
    params:
        # Several processes: data-parallel training (DDP) launched by torchrun.
        launcher=lambda w: (
            f"torchrun --standalone --nproc-per-node {head(w)['processes']} --no-python "
            if head(w)["processes"] > 1
            else ""
        ),
        hidden=lambda w: head_variant(w)["hidden"],
        mode=lambda w: head_variant(w)["mode"],
        p=lambda w: head_variant(w).get("p", 0.1),
        init=lambda w, input: opt("--init", input.init or None),
        epochs=lambda w: head(w)["epochs"],
        batch_size=lambda w: head(w)["batch_size"],
        lr=lambda w: head(w)["lr"],
        weight_decay=lambda w: head(w)["weight_decay"],
        device=config["device"],
        deterministic=DETERMINISTIC,
        checkpoint="work/{preset}/{experiment}/{variant}/seed{seed}/checkpoint.pt",
    shell:
        "OMP_NUM_THREADS=1 {params.launcher}tridrop train-head --features {input.features}"
        " --hidden {params.hidden} --mode {params.mode} --p {params.p} {params.init}"
        " --epochs {params.epochs} --batch-size {params.batch_size} --lr {params.lr}"
        " --weight-decay {params.weight_decay} --seed {wildcards.seed} --device {params.device}"
        " {params.deterministic} --checkpoint {params.checkpoint} --out {output.model} 2> {log}"


rule sweep_head:
    input:
        model=rules.train_head.output.model,
        features="results/{preset}/features/{experiment}/val",
        code=SRC,
    output:
        sweep="results/{preset}/heads/{experiment}/{variant}/seed{seed}/sweep.csv",
        params="results/{preset}/heads/{experiment}/{variant}/seed{seed}/params.csv",
    log:
        "logs/{preset}/sweep/{experiment}/{variant}/seed{seed}.log",
    conda:
        CONDA_ENV
    threads: 1
    params:
        widths=lambda w: " ".join(map(str, head(w)["widths"])),
        full=lambda w: head(w)["hidden"],
        name=lambda w: "fixed" if w.variant.startswith("fixed") else w.variant,
        device=config["device"],
    shell:
        "OMP_NUM_THREADS={threads} tridrop sweep-head --model {input.model}"
        " --features {input.features} --widths {params.widths} --full-hidden {params.full}"
        " --experiment {wildcards.experiment} --name {params.name} --seed {wildcards.seed}"
        " --device {params.device} --out {output.sweep} --params-out {output.params} 2> {log}"


rule head_baselines:
    input:
        reference=lambda w: head_reference(w.preset, w.experiment),
        train="results/{preset}/features/{experiment}/train",
        val="results/{preset}/features/{experiment}/val",
        code=SRC,
    output:
        sweep="results/{preset}/heads/{experiment}/baselines/sweep.csv",
        params="results/{preset}/heads/{experiment}/baselines/params.csv",
    log:
        "logs/{preset}/heads/{experiment}/baselines.log",
    conda:
        CONDA_ENV
    threads: 1
    params:
        widths=lambda w: " ".join(map(str, head(w)["widths"])),
        rank_samples=lambda w: head(w)["rank_samples"],
        device=config["device"],
    shell:
        "OMP_NUM_THREADS={threads} tridrop head-baselines --reference {input.reference}"
        " --train-features {input.train} --val-features {input.val} --widths {params.widths}"
        " --rank-samples {params.rank_samples} --device {params.device}"
        " --experiment {wildcards.experiment} --out {output.sweep}"
        " --params-out {output.params} 2> {log}"


rule head_table:
    input:
        sweeps="results/{preset}/sweeps.csv",
        params=lambda w: head_files(w.preset, w.experiment, "params.csv"),
        code=SRC,
    output:
        report(
            "results/{preset}/tables/{experiment}_accuracy_vs_params.csv",
            caption="../report/accuracy_table.rst",
            category="{experiment}",
            subcategory="Tables",
        ),
    log:
        "logs/{preset}/tables/{experiment}_accuracy_vs_params.log",
    conda:
        CONDA_ENV
    shell:
        "tridrop head-table --sweeps {input.sweeps} --params {input.params}"
        " --experiment {wildcards.experiment} --out {output} 2> {log}"


rule figure_accuracy_vs_params:
    input:
        table=rules.head_table.output,
        code=SRC,
    output:
        png=report(
            "results/{preset}/figures/{experiment}_accuracy_vs_params.png",
            caption="../report/accuracy_vs_params.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf="results/{preset}/figures/{experiment}_accuracy_vs_params.pdf",
    log:
        "logs/{preset}/figures/{experiment}_accuracy_vs_params.log",
    conda:
        CONDA_ENV
    shell:
        "tridrop plot accuracy --input {input.table} --out {output.png} 2> {log}"


rule head_claims:
    input:
        table=rules.head_table.output,
        code=SRC,
    output:
        "results/{preset}/claims/{experiment}.csv",
    log:
        "logs/{preset}/claims/{experiment}.log",
    wildcard_constraints:
        experiment=HEAD_NAMES,
    conda:
        CONDA_ENV
    params:
        model=lambda w: head(w)["claims"]["model"],
        kept_25=lambda w: head(w)["claims"]["kept_25"],
        kept_10=lambda w: head(w)["claims"]["kept_10"],
        max_gap=lambda w: head(w)["claims"]["max_gap"],
    shell:
        "tridrop head-claims --table {input.table} --model {params.model}"
        " --kept-25 {params.kept_25} --kept-10 {params.kept_10} --max-gap {params.max_gap}"
        " --out {output} 2> {log}"
