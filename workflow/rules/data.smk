# Datasets: each stored once per preset as a fixed train/test split (the same for every
# experiment that uses it: the config check refuses experiments that disagree on it).


rule download_data:
    output:
        directory(out("data/raw/{dataset}")),
    log:
        logs("download/{dataset}.log"),
    # Mirrors fail now and then; torchvision checks MD5 sums, so a retry starts clean.
    retries: 3
    conda:
        CONDA_ENV
    params:
        spec=data_spec,
    shell:
        "tridrop data download --spec {params.spec:q} --root {output:q} 2> {log:q}"


rule prepare_data:
    input:
        raw=raw_files,
        code=code("data:prepare"),
    output:
        out("data/{dataset}.npz"),
    log:
        logs("prepare_data/{dataset}.log"),
    conda:
        CONDA_ENV
    params:
        spec=data_spec,
        raw=raw_option,
    shell:
        "tridrop data prepare --spec {params.spec:q} {params.raw} --out {output:q} 2> {log:q}"
