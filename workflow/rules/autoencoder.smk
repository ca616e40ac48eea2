# Variable-size autoencoders: train every variant and seed, sweep every latent width; the
# baselines (autoencoders trained at fixed widths, PCA); feature importance and dependence.

# One command line for the variants and the fixed-width baselines (which set latent and mode).
TRAIN_AE = (
    "OMP_NUM_THREADS={threads} tridrop train-ae --data {input.data} --out {output.model}"
    " --arch {params.arch} --channels {params.channels} --hidden {params.hidden}"
    " --latent {params.latent} --mode {params.mode} --p {params.p}"
    " --epochs {params.epochs} --batch-size {params.batch_size} --lr {params.lr}"
    " --weight-decay {params.weight_decay} --seed {wildcards.seed} --device {params.device}"
    " {params.deterministic} --checkpoint {params.checkpoint} 2> {log}"
)


rule train_autoencoder:
    input:
        data=lambda w: f"results/{w.preset}/data/{ae(w)['dataset']}.npz",
        code=SRC,
    output:
        model="results/{preset}/runs/{experiment}/{variant}/seed{seed}/model.pt",
        meta="results/{preset}/runs/{experiment}/{variant}/seed{seed}/model.json",
    log:
        "logs/{preset}/train/{experiment}/{variant}/seed{seed}.log",
    benchmark:
        "logs/{preset}/benchmarks/train_{experiment}_{variant}_seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1 if USE_GPU else 0,
    params:
        arch=lambda w: arch_params(w)["arch"],
        channels=lambda w: arch_params(w)["channels"],
        hidden=lambda w: ae(w)["hidden"],
        latent=lambda w: ae(w)["latent"],
        mode=lambda w: ae(w)["variants"][w.variant]["mode"],
        p=lambda w: ae(w)["variants"][w.variant].get("p", 0.1),
        epochs=lambda w: ae(w)["epochs"],
        batch_size=lambda w: ae(w)["batch_size"],
        lr=lambda w: ae(w)["lr"],
        weight_decay=lambda w: ae(w)["weight_decay"],
        device=config["device"],
        deterministic=DETERMINISTIC,
        # Outside the declared outputs, so an interrupted job resumes instead of restarting.
        checkpoint="work/{preset}/{experiment}/{variant}/seed{seed}/checkpoint.pt",
    shell:
        TRAIN_AE


rule sweep_autoencoder:
    input:
        model=rules.train_autoencoder.output.model,
        data=lambda w: f"results/{w.preset}/data/{ae(w)['dataset']}.npz",
        code=SRC,
    output:
        sweep="results/{preset}/runs/{experiment}/{variant}/seed{seed}/sweep.csv",
        recon="results/{preset}/runs/{experiment}/{variant}/seed{seed}/reconstructions.npz",
    log:
        "logs/{preset}/sweep/{experiment}/{variant}/seed{seed}.log",
    conda:
        CONDA_ENV
    threads: 1
    params:
        images=lambda w: ae(w)["recon_images"],
        widths=lambda w: " ".join(map(str, ae(w)["recon_widths"])),
        device=config["device"],
    shell:
        "OMP_NUM_THREADS={threads} tridrop sweep-ae --model {input.model} --data {input.data}"
        " --experiment {wildcards.experiment} --name {wildcards.variant} --seed {wildcards.seed}"
        " --device {params.device} --recon-out {output.recon} --recon-images {params.images}"
        " --recon-widths {params.widths} --out {output.sweep} 2> {log}"


rule train_fixed_autoencoder:
    input:
        data=lambda w: f"results/{w.preset}/data/{ae(w)['dataset']}.npz",
        code=SRC,
    output:
        model="results/{preset}/runs/{experiment}/fixed/w{width}/seed{seed}/model.pt",
        meta="results/{preset}/runs/{experiment}/fixed/w{width}/seed{seed}/model.json",
    log:
        "logs/{preset}/train/{experiment}/fixed/w{width}/seed{seed}.log",
    benchmark:
        "logs/{preset}/benchmarks/train_{experiment}_fixed_w{width}_seed{seed}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        gpu=1 if USE_GPU else 0,
    params:
        arch=lambda w: arch_params(w)["arch"],
        channels=lambda w: arch_params(w)["channels"],
        hidden=lambda w: ae(w)["hidden"],
        # The baseline TD avoids: the same autoencoder trained without TD at this width.
        latent=lambda w: int(w.width),
        mode="none",
        p=0.1,
        epochs=lambda w: ae(w)["epochs"],
        batch_size=lambda w: ae(w)["batch_size"],
        lr=lambda w: ae(w)["lr"],
        weight_decay=lambda w: ae(w)["weight_decay"],
        device=config["device"],
        deterministic=DETERMINISTIC,
        checkpoint="work/{preset}/{experiment}/fixed/w{width}/seed{seed}/checkpoint.pt",
    shell:
        TRAIN_AE


rule sweep_fixed_autoencoder:
    input:
        model=rules.train_fixed_autoencoder.output.model,
        data=lambda w: f"results/{w.preset}/data/{ae(w)['dataset']}.npz",
        code=SRC,
    output:
        "results/{preset}/runs/{experiment}/fixed/w{width}/seed{seed}/sweep.csv",
    log:
        "logs/{preset}/sweep/{experiment}/fixed/w{width}/seed{seed}.log",
    conda:
        CONDA_ENV
    threads: 1
    params:
        device=config["device"],
    shell:
        "OMP_NUM_THREADS={threads} tridrop sweep-ae --model {input.model} --data {input.data}"
        " --experiment {wildcards.experiment} --name fixed --seed {wildcards.seed}"
        " --device {params.device} --full-width-only --out {output} 2> {log}"


rule pca_autoencoder:
    input:
        data=lambda w: f"results/{w.preset}/data/{ae(w)['dataset']}.npz",
        code=SRC,
    output:
        "results/{preset}/runs/{experiment}/pca/sweep.csv",
    log:
        "logs/{preset}/sweep/{experiment}/pca.log",
    conda:
        CONDA_ENV
    threads: 1
    params:
        widths=lambda w: ae(w)["latent"],
    shell:
        "OMP_NUM_THREADS={threads} tridrop pca --data {input.data}"
        " --experiment {wildcards.experiment} --widths {params.widths} --out {output} 2> {log}"


rule features_autoencoder:
    input:
        model=rules.train_autoencoder.output.model,
        data=lambda w: f"results/{w.preset}/data/{ae(w)['dataset']}.npz",
        code=SRC,
    output:
        importance="results/{preset}/runs/{experiment}/{variant}/seed{seed}/importance.csv",
        dependence="results/{preset}/runs/{experiment}/{variant}/seed{seed}/dependence.csv",
    log:
        "logs/{preset}/features/{experiment}/{variant}/seed{seed}.log",
    conda:
        CONDA_ENV
    threads: 1
    params:
        images=lambda w: ae(w).get("feature_images", 500),
        device=config["device"],
    shell:
        "OMP_NUM_THREADS={threads} tridrop features-ae --model {input.model}"
        " --data {input.data} --experiment {wildcards.experiment} --name {wildcards.variant}"
        " --seed {wildcards.seed} --images {params.images} --device {params.device}"
        " --importance-out {output.importance} --dependence-out {output.dependence} 2> {log}"


rule aggregate_features:
    input:
        importance=lambda w: ae_runs(w.preset, w.experiment, "importance.csv"),
        dependence=lambda w: ae_runs(w.preset, w.experiment, "dependence.csv"),
        code=SRC,
    output:
        importance="results/{preset}/tables/{experiment}_importance.csv",
        dependence="results/{preset}/tables/{experiment}_dependence.csv",
    log:
        "logs/{preset}/aggregate_features_{experiment}.log",
    conda:
        CONDA_ENV
    shell:
        "tridrop aggregate-features --importance {input.importance}"
        " --dependence {input.dependence} --importance-out {output.importance}"
        " --dependence-out {output.dependence} 2> {log}"


rule aggregate:
    input:
        sweeps=lambda w: all_sweeps(w.preset),
        code=SRC,
    output:
        sweeps="results/{preset}/sweeps.csv",
        summary=report(
            "results/{preset}/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        wide=wide_tables(PRESET, "results/{preset}"),
        metrics="results/{preset}/metrics.json",
    log:
        "logs/{preset}/aggregate.log",
    conda:
        CONDA_ENV
    params:
        widths=lambda w: " ".join(
            str(x)
            for x in sorted(
                {
                    x
                    for s in preset(w)["autoencoders"].values()
                    for x in s["headline_widths"]
                }
            )
        ),
        # The CLI fills these in; a function keeps Snakemake from expanding them.
        wide=lambda w: f"results/{w.preset}/tables/{{experiment}}_{{metric}}_by_width.csv",
    shell:
        "tridrop aggregate {input.sweeps} --out {output.sweeps} --summary {output.summary}"
        " --wide {params.wide} --metrics {output.metrics}"
        " --headline-widths {params.widths} 2> {log}"
