# Targets: `rule all` (in the Snakefile) is everything; one family alone with
# `snakemake autoencoders` or `snakemake heads` (the autoencoders need no ImageNet copy).


rule autoencoders:
    input:
        autoencoder_targets(),


rule heads:
    input:
        head_targets(),
