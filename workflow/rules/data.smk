# Datasets: each stored once per preset as a fixed train/test split.


rule prepare_data:
    input:
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
    shell:
        "tridrop prepare-data --dataset {wildcards.dataset} --out {output}"
        " --test-fraction {params.test_fraction} --split-seed {params.split_seed} 2> {log}"
