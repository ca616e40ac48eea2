# Datasets: each stored once per preset as a fixed train/test split (the same for every
# experiment that uses it: the config check refuses experiments that disagree on it).


rule download_data:
    output:
        root=directory(out("data/raw/{dataset}")),
    log:
        logs("download/{dataset}.log"),
    # Mirrors fail now and then; torchvision checks MD5 sums, so a retry starts clean.
    retries: 3
    conda:
        CONDA_ENV
    params:
        spec=PIPE.split_spec,
    shell:
        command("data", "tridrop.jobs.data", "download", prefix="")


rule prepare_data:
    input:
        raw=PIPE.raw_files,
        code=code("tridrop.jobs.data", "prepare"),
    output:
        out=out("data/{dataset}.npz"),
    log:
        logs("prepare_data/{dataset}.log"),
    conda:
        CONDA_ENV
    params:
        spec=PIPE.split_spec,
        raw=PIPE.raw_option,
        contents=PIPE.raw_contents,
    shell:
        command("data", "tridrop.jobs.data", "prepare", prefix="")
