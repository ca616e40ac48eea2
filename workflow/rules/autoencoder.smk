# Variable-size autoencoders: train every variant and seed (fixed<width> variants are the
# autoencoders trained at one width, the baseline TD avoids), sweep every latent width, PCA,
# feature importance and dependence, the experiment's tables and claims.


rule ae_train:
    input:
        data=ae_data,
        code=code("autoencoder:train"),
    output:
        model=out("runs/{experiment}/{variant}/seed{seed}/model.pt"),
        meta=out("runs/{experiment}/{variant}/seed{seed}/model.json"),
    log:
        logs("train/{experiment}/{variant}/seed{seed}.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_{variant}_seed{seed}.tsv")
    wildcard_constraints:
        experiment=AE,
        variant=TRAINED,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1 if USE_GPU else 0,
    params:
        spec=ae_train_spec,
        checkpoint=work("{experiment}/{variant}/seed{seed}/checkpoint.pt"),
    shell:
        "OMP_NUM_THREADS={threads} tridrop ae train --spec {params.spec:q}"
        " --data {input.data:q} --model {output.model:q}"
        " --checkpoint {params.checkpoint:q} 2> {log:q}"


rule ae_sweep:
    input:
        model=rules.ae_train.output.model,
        data=ae_data,
        code=code("autoencoder:sweep"),
    output:
        sweep=out("runs/{experiment}/{variant}/seed{seed}/sweep.csv"),
        recon=out("runs/{experiment}/{variant}/seed{seed}/reconstructions.npz"),
    log:
        logs("sweep/{experiment}/{variant}/seed{seed}.log"),
    wildcard_constraints:
        experiment=AE,
        variant=TRAINED,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=ae_sweep_spec,
    shell:
        "OMP_NUM_THREADS={threads} tridrop ae sweep --spec {params.spec:q}"
        " --model {input.model:q} --data {input.data:q} --out {output.sweep:q}"
        " --recon {output.recon:q} 2> {log:q}"


# PCAAE: latent units trained one at a time (a stage per unit), swept with a decoder per width.
rule ae_pcaae:
    input:
        data=ae_data,
        code=code("autoencoder:pcaae"),
    output:
        model=out("runs/{experiment}/pcaae/seed{seed}/model.pt"),
        meta=out("runs/{experiment}/pcaae/seed{seed}/model.json"),
        sweep=out("runs/{experiment}/pcaae/seed{seed}/sweep.csv"),
    log:
        logs("train/{experiment}/pcaae/seed{seed}.log"),
    benchmark:
        logs("benchmarks/train_{experiment}_pcaae_seed{seed}.tsv")
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1 if USE_GPU else 0,
    params:
        spec=ae_pcaae_spec,
        checkpoint=work("{experiment}/pcaae/seed{seed}"),
    shell:
        "OMP_NUM_THREADS={threads} tridrop ae pcaae --spec {params.spec:q}"
        " --data {input.data:q} --model {output.model:q} --out {output.sweep:q}"
        " --checkpoint {params.checkpoint:q} 2> {log:q}"


rule ae_baselines:
    input:
        data=ae_data,
        code=code("autoencoder:baselines"),
    output:
        out("runs/{experiment}/baselines/sweep.csv"),
    log:
        logs("sweep/{experiment}/baselines.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=ae_baselines_spec,
    shell:
        "OMP_NUM_THREADS={threads} tridrop ae baselines --spec {params.spec:q}"
        " --data {input.data:q} --out {output:q} 2> {log:q}"


rule ae_analyse:
    input:
        model=rules.ae_train.output.model,
        data=ae_data,
        code=code("autoencoder:analyse"),
    output:
        importance=out("runs/{experiment}/{variant}/seed{seed}/importance.csv"),
        dependence=out("runs/{experiment}/{variant}/seed{seed}/dependence.csv"),
    log:
        logs("features/{experiment}/{variant}/seed{seed}.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    threads: 1
    params:
        spec=ae_analysis_spec,
    shell:
        "OMP_NUM_THREADS={threads} tridrop ae analyse --spec {params.spec:q}"
        " --model {input.model:q} --data {input.data:q}"
        " --importance {output.importance:q} --dependence {output.dependence:q} 2> {log:q}"


rule ae_table:
    input:
        importance=lambda w: ae_analyses(w, "importance"),
        dependence=lambda w: ae_analyses(w, "dependence"),
        code=code("autoencoder:table"),
    output:
        importance=out("tables/{experiment}_importance.csv"),
        dependence=out("tables/{experiment}_dependence.csv"),
    log:
        logs("aggregate_features_{experiment}.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    shell:
        "tridrop ae table --importance {input.importance:q}"
        " --dependence {input.dependence:q} --importance-out {output.importance:q}"
        " --dependence-out {output.dependence:q} 2> {log:q}"


rule ae_claims:
    input:
        sweeps=out("runs/{experiment}/sweeps.csv"),
        importance=rules.ae_table.output.importance,
        dependence=rules.ae_table.output.dependence,
        code=code("autoencoder:claims"),
    output:
        out("claims/{experiment}.csv"),
    log:
        logs("claims/{experiment}.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    params:
        spec=ae_claims_spec,
    shell:
        "tridrop ae claims --spec {params.spec:q} --sweeps {input.sweeps:q}"
        " --importance {input.importance:q} --dependence {input.dependence:q}"
        " --out {output:q} 2> {log:q}"


# The gap report: each variant's MSE against no TD (full width) and the fixed-width
# autoencoders (each width), and its training cost.
rule ae_gap:
    input:
        sweeps=out("runs/{experiment}/sweeps.csv"),
        meta=ae_gap_meta,
        code=code("autoencoder:gap"),
    output:
        out("tables/{experiment}_gap.csv"),
    log:
        logs("gap/{experiment}.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    params:
        spec=ae_gap_spec,
    shell:
        "tridrop ae gap --spec {params.spec:q} --sweeps {input.sweeps:q}"
        " --meta {input.meta:q} --out {output:q} 2> {log:q}"
