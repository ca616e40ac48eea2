# The claims table: each experiment checks the paper's claims on its aggregated results, and
# `claims` concatenates them into results/<preset>/claims.csv.


rule claims_autoencoder:
    input:
        sweeps="results/{preset}/sweeps.csv",
        importance="results/{preset}/tables/{experiment}_importance.csv",
        dependence="results/{preset}/tables/{experiment}_dependence.csv",
        code=SRC,
    output:
        "results/{preset}/claims/{experiment}.csv",
    log:
        "logs/{preset}/claims/{experiment}.log",
    wildcard_constraints:
        experiment=AE_NAMES,
    conda:
        CONDA_ENV
    shell:
        "tridrop claims-ae --sweeps {input.sweeps} --importance {input.importance}"
        " --dependence {input.dependence} --experiment {wildcards.experiment}"
        " --out {output} 2> {log}"


rule claims:
    input:
        claims=lambda w: claim_files(w.preset),
        code=SRC,
    output:
        claims=report(
            "results/{preset}/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
        ),
        metrics="results/{preset}/claims.json",
    log:
        "logs/{preset}/claims.log",
    conda:
        CONDA_ENV
    shell:
        "tridrop claims {input.claims} --out {output.claims} --metrics {output.metrics}"
        " 2> {log}"
