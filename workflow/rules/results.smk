# Results across families: each experiment's sweeps collected in one file, the preset's
# sweeps, summary, wide tables and metrics, the claims table, and the run's environment.


rule collect:
    input:
        sweeps=experiment_sweeps,
        code=code("results:collect"),
    output:
        out("runs/{experiment}/sweeps.csv"),
    log:
        logs("collect/{experiment}.log"),
    conda:
        CONDA_ENV
    shell:
        "tridrop results collect --sweeps {input.sweeps:q} --out {output:q} 2> {log:q}"


rule aggregate:
    input:
        sweeps=expand(rules.collect.output, experiment=[*AUTOENCODERS, *HEADS]),
        code=code("results:aggregate"),
    output:
        sweeps=out("sweeps.csv"),
        summary=report(
            out("tables/summary.csv"),
            caption="../report/summary.rst",
            category="Tables",
        ),
        plots=plot_files(),
        metrics=out("metrics.json"),
    log:
        logs("aggregate.log"),
    conda:
        CONDA_ENV
    params:
        spec=aggregate_spec,
        plots=plot_template,
    shell:
        "tridrop results aggregate --spec {params.spec:q} --sweeps {input.sweeps:q}"
        " --out {output.sweeps:q} --summary {output.summary:q} --plots {params.plots:q}"
        " --metrics {output.metrics:q} 2> {log:q}"


rule claims:
    input:
        claims=expand(
            out("claims/{experiment}.csv"), experiment=[*AUTOENCODERS, *HEADS]
        ),
        code=code("results:claims"),
    output:
        claims=report(
            out("claims.csv"), caption="../report/claims.rst", category="Claims"
        ),
        metrics=out("claims.json"),
    log:
        logs("claims.log"),
    conda:
        CONDA_ENV
    shell:
        "tridrop results claims --claims {input.claims:q} --out {output.claims:q}"
        " --metrics {output.metrics:q} 2> {log:q}"


# The run's record for the report: library versions, device and the resolved config.
rule environment:
    input:
        code=code("results:environment"),
    output:
        report(
            out("environment.json"),
            caption="../report/environment.rst",
            category="Run",
        ),
    log:
        logs("environment.log"),
    conda:
        CONDA_ENV
    params:
        spec=environment_spec,
    shell:
        "tridrop results environment --spec {params.spec:q} --out {output:q} 2> {log:q}"
