# Results across families: each experiment's sweeps collected in one file (what its claims,
# tables and figures read), the preset's sweeps, summary, plot files and metrics, the claims
# table, the run's environment, and the method's own figure.
from tridrop.files import html_safe

RESULTS = "tridrop.jobs.results"


rule collect:
    input:
        sweeps=PIPE.sweeps,
        code=code(RESULTS, "collect"),
    output:
        out=out("runs/{experiment}/sweeps.csv"),
    log:
        logs("collect/{experiment}.log"),
    conda:
        CONDA_ENV
    params:
        spec=NOTHING,
    shell:
        command("results", RESULTS, "collect", prefix="")


rule aggregate:
    input:
        sweeps=expand(rules.collect.output.out, experiment=list(EXPERIMENTS)),
        code=code(RESULTS, "aggregate"),
    output:
        out=out("sweeps.csv"),
        summary=report(
            out("tables/summary.csv"),
            caption="../report/summary.rst",
            category="Tables",
        ),
        plots=PIPE.plot_files(),
        metrics=out("metrics.json"),
    log:
        logs("aggregate.log"),
    conda:
        CONDA_ENV
    params:
        spec=PIPE.aggregate_spec(),
        plots=PIPE.plot_template,
    shell:
        command("results", RESULTS, "aggregate", prefix="")


rule claims:
    input:
        claims=PIPE.claims,
        code=code(RESULTS, "claims"),
    output:
        out=report(out("claims.csv"), caption="../report/claims.rst", category="Claims"),
        metrics=out("claims.json"),
    log:
        logs("claims.log"),
    conda:
        CONDA_ENV
    params:
        spec=NOTHING,
    shell:
        command("results", RESULTS, "claims", prefix="")


# The run's record for the report: library versions, device and the resolved config. The only
# report output whose params hold free-form config strings (paths): Snakemake's report writes
# params into a <script> block unescaped, so the spec's "<" travel as JSON escapes (html_safe).
rule environment:
    input:
        code=code(RESULTS, "environment"),
    output:
        out=report(
            out("environment.json"),
            caption="../report/environment.rst",
            category="Run",
        ),
    log:
        logs("environment.log"),
    conda:
        CONDA_ENV
    params:
        spec=html_safe(PIPE.environment_spec()),
    shell:
        command("results", RESULTS, "environment", prefix="")


rule plot_mask:
    input:
        code=code("tridrop.jobs.plot", "mask"),
    output:
        png=report(
            out("figures/triangular_mask.png"),
            caption="../report/triangular_mask.rst",
            category="Method",
        ),
        pdf=out("figures/triangular_mask.pdf"),
    log:
        logs("figures/triangular_mask.log"),
    conda:
        CONDA_ENV
    params:
        spec=PIPE.mask_spec(),
    shell:
        command("plot", "tridrop.jobs.plot", "mask", prefix="")
