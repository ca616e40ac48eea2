# Datasets: each stored once per preset as a fixed train/test split.


rule download_data:
    output:
        directory("results/{preset}/data/raw/{dataset}"),
    log:
        "logs/{preset}/download/{dataset}.log",
    # Mirrors fail now and then; torchvision checks MD5 sums, so a retry starts clean.
    retries: 3
    conda:
        CONDA_ENV
    shell:
        "tridrop download --dataset {wildcards.dataset} --root {output} 2> {log}"


rule prepare_data:
    input:
        raw=raw_data,
        code=SRC,
    output:
        "results/{preset}/data/{dataset}.npz",
    log:
        "logs/{preset}/prepare_data/{dataset}.log",
    conda:
        CONDA_ENV
    params:
        test_fraction=lambda w: data_spec(w)["test_fraction"],
        split_seed=lambda w: data_spec(w)["split_seed"],
        limits=lambda w: "".join(
            f" --{k.replace('_', '-')} {data_spec(w)[k]}"
            for k in ("max_train", "max_test")
            if k in data_spec(w)
        ),
        path=lambda w, input: f" --path {input.raw}" if input.raw else "",
    shell:
        "tridrop prepare-data --dataset {wildcards.dataset} --out {output}"
        " --test-fraction {params.test_fraction} --split-seed {params.split_seed}"
        "{params.path}{params.limits} 2> {log}"
