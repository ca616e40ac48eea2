# The claims table: each experiment's claims of the paper, measured, with whether they held.


rule claims:
    input:
        claims=lambda w: claim_files(w.preset),
        code=SRC,
    output:
        "results/{preset}/claims.csv",
    log:
        "logs/{preset}/claims.log",
    conda:
        CONDA_ENV
    shell:
        "tridrop claims {input.claims} --out {output} 2> {log}"
