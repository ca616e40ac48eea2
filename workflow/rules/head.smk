# Classifier heads (VGG19 on ImageNet; a small VGG-style network on Fashion-MNIST; the digits
# stand-in): check the data or train the backbone, cache the features once, train TD heads and
# baselines on the cache, sweep widths, table, claims.


rule head_check:
    input:
        imagenet=imagenet_copy,
        code=code("head:check"),
    output:
        out("runs/{experiment}/imagenet.json"),
    log:
        logs("check_imagenet/{experiment}.log"),
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    params:
        spec=imagenet_spec,
    shell:
        "tridrop head check --spec {params.spec:q} --out {output:q} 2> {log:q}"


rule head_backbone:
    input:
        data=head_data,
        code=code("head:backbone"),
    output:
        model=out("runs/{experiment}/backbone/model.pt"),
        meta=out("runs/{experiment}/backbone/model.json"),
    log:
        logs("heads/{experiment}/backbone.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_backbone.tsv")
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=train_gpus,
    params:
        spec=backbone_spec,
        checkpoint=work("{experiment}/backbone/checkpoint.pt"),
    shell:
        "OMP_NUM_THREADS={threads} tridrop head backbone --spec {params.spec:q}"
        " --data {input.data:q} --model {output.model:q}"
        " --checkpoint {params.checkpoint:q} 2> {log:q}"


rule head_cache:
    input:
        unpack(cache_input),
    output:
        directory(out("runs/{experiment}/features/{split}")),
    log:
        logs("features/{experiment}/{split}.log"),
    benchmark:
        logs("benchmarks/features_{experiment}_{split}.tsv")
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    threads: cache_threads
    resources:
        gpu=cache_gpus,
    params:
        spec=cache_spec,
        data=lambda w, input: option("--data", input.get("data")),
        backbone=lambda w, input: option("--backbone", input.get("backbone")),
        work=work("features/{experiment}/{split}"),
    shell:
        "OMP_NUM_THREADS={threads} tridrop head cache --spec {params.spec:q}"
        " {params.data} {params.backbone} --work {params.work:q} --out {output:q}"
        " 2> {log:q}"


rule head_pretrained:
    input:
        unpack(pretrained_input),
    output:
        model=out("runs/{experiment}/pretrained/model.pt"),
        meta=out("runs/{experiment}/pretrained/model.json"),
    log:
        logs("heads/{experiment}/pretrained.log"),
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    params:
        spec=pretrained_spec,
        backbone=lambda w, input: option("--backbone", input.get("backbone")),
    shell:
        "tridrop head pretrained --spec {params.spec:q} {params.backbone}"
        " --model {output.model:q} 2> {log:q}"


rule head_train:
    input:
        features=out("runs/{experiment}/features/train"),
        init=head_init,
        code=code("head:train"),
    output:
        model=out("runs/{experiment}/{variant}/seed{seed}/model.pt"),
        meta=out("runs/{experiment}/{variant}/seed{seed}/model.json"),
    log:
        logs("heads/{experiment}/{variant}/seed{seed}.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_{variant}_seed{seed}.tsv")
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    threads: processes
    resources:
        gpu=train_gpus,
    params:
        spec=head_train_spec,
        launcher=head_launcher,
        init=lambda w, input: option("--init", input.init),
        checkpoint=work("{experiment}/{variant}/seed{seed}/checkpoint.pt"),
    shell:
        "OMP_NUM_THREADS=1 {params.launcher}tridrop head train --spec {params.spec:q}"
        " --features {input.features:q} {params.init} --model {output.model:q}"
        " --checkpoint {params.checkpoint:q} 2> {log:q}"


rule head_sweep:
    input:
        model=rules.head_train.output.model,
        features=out("runs/{experiment}/features/val"),
        code=code("head:sweep"),
    output:
        sweep=out("runs/{experiment}/{variant}/seed{seed}/sweep.csv"),
        params=out("runs/{experiment}/{variant}/seed{seed}/params.csv"),
    log:
        logs("sweep/{experiment}/{variant}/seed{seed}.log"),
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=head_sweep_spec,
    shell:
        "OMP_NUM_THREADS={threads} tridrop head sweep --spec {params.spec:q}"
        " --model {input.model:q} --features {input.features:q} --out {output.sweep:q}"
        " --params {output.params:q} 2> {log:q}"


rule head_baselines:
    input:
        reference=reference_of,
        train=out("runs/{experiment}/features/train"),
        val=out("runs/{experiment}/features/val"),
        code=code("head:baselines"),
    output:
        sweep=out("runs/{experiment}/baselines/sweep.csv"),
        params=out("runs/{experiment}/baselines/params.csv"),
    log:
        logs("heads/{experiment}/baselines.log"),
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=head_baselines_spec,
    shell:
        "OMP_NUM_THREADS={threads} tridrop head baselines --spec {params.spec:q}"
        " --reference {input.reference:q} --train {input.train:q} --val {input.val:q}"
        " --out {output.sweep:q} --params {output.params:q} 2> {log:q}"


rule head_table:
    input:
        sweeps=out("runs/{experiment}/sweeps.csv"),
        params=head_params,
        code=code("head:table"),
    output:
        report(
            out("tables/{experiment}_accuracy_vs_params.csv"),
            caption="../report/accuracy_table.rst",
            category="{experiment}",
            subcategory="Tables",
        ),
    log:
        logs("tables/{experiment}_accuracy_vs_params.log"),
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    params:
        spec=table_spec,
    shell:
        "tridrop head table --spec {params.spec:q} --sweeps {input.sweeps:q}"
        " --params {input.params:q} --out {output:q} 2> {log:q}"


rule head_claims:
    input:
        table=rules.head_table.output,
        code=code("head:claims"),
    output:
        out("claims/{experiment}.csv"),
    log:
        logs("claims/{experiment}.log"),
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    params:
        spec=head_claims_spec,
    shell:
        "tridrop head claims --spec {params.spec:q} --table {input.table:q} --out {output:q}"
        " 2> {log:q}"
