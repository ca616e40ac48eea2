# The paper's figures, drawn from the aggregated results (PNG and PDF).


rule plot_sweep:
    input:
        sweeps=rules.collect.output,
        code=code("plot:sweep"),
    output:
        png=report(
            out("figures/{experiment}_mse_vs_width.png"),
            caption="../report/mse_vs_width.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf=out("figures/{experiment}_mse_vs_width.pdf"),
    log:
        logs("figures/{experiment}_mse_vs_width.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    params:
        spec=sweep_figure_spec,
    shell:
        "tridrop plot sweep --spec {params.spec:q} --sweeps {input.sweeps:q}"
        " --png {output.png:q} 2> {log:q}"


rule plot_gap:
    input:
        table=rules.ae_gap.output,
        sweeps=rules.collect.output,
        code=code("plot:gap"),
    output:
        png=report(
            out("figures/{experiment}_gap.png"),
            caption="../report/gap.rst",
            category="{experiment}",
            subcategory="Gap report",
        ),
        pdf=out("figures/{experiment}_gap.pdf"),
    log:
        logs("figures/{experiment}_gap.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    params:
        spec=gap_figure_spec,
    shell:
        "tridrop plot gap --spec {params.spec:q} --table {input.table:q}"
        " --sweeps {input.sweeps:q} --png {output.png:q} 2> {log:q}"


rule plot_reconstructions:
    input:
        recon=first_seed_recon,
        code=code("plot:reconstructions"),
    output:
        png=report(
            out("figures/{experiment}_reconstructions_{variant}.png"),
            caption="../report/reconstructions.rst",
            category="{experiment}",
            subcategory="Reconstructions",
            labels={"model": "{variant}"},
        ),
        pdf=out("figures/{experiment}_reconstructions_{variant}.pdf"),
    log:
        logs("figures/{experiment}_reconstructions_{variant}.log"),
    wildcard_constraints:
        experiment=AE,
    conda:
        CONDA_ENV
    params:
        spec=recon_title,
    shell:
        "tridrop plot reconstructions --spec {params.spec:q} --recon {input.recon:q}"
        " --png {output.png:q} 2> {log:q}"


rule plot_mask:
    input:
        code=code("plot:mask"),
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
        spec=specs.dump(specs.pick(specs.MaskFigure, FIGURES)),
    shell:
        "tridrop plot mask --spec {params.spec:q} --png {output.png:q} 2> {log:q}"


rule plot_features:
    input:
        table=out("tables/{experiment}_{kind}.csv"),
        code=feature_figure_code,
    output:
        png=report(
            out("figures/{experiment}_{kind}.png"),
            caption="../report/features.rst",
            category="{experiment}",
            subcategory="Features",
        ),
        pdf=out("figures/{experiment}_{kind}.pdf"),
    log:
        logs("figures/{experiment}_{kind}.log"),
    wildcard_constraints:
        kind="importance|dependence",
        experiment=AE,
    conda:
        CONDA_ENV
    shell:
        "tridrop plot {wildcards.kind} --table {input.table:q} --png {output.png:q} 2> {log:q}"


rule plot_accuracy:
    input:
        table=rules.head_table.output,
        code=code("plot:accuracy"),
    output:
        png=report(
            out("figures/{experiment}_accuracy_vs_params.png"),
            caption="../report/accuracy_vs_params.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf=out("figures/{experiment}_accuracy_vs_params.pdf"),
    log:
        logs("figures/{experiment}_accuracy_vs_params.log"),
    wildcard_constraints:
        experiment=HEAD,
    conda:
        CONDA_ENV
    shell:
        "tridrop plot accuracy --table {input.table:q} --png {output.png:q} 2> {log:q}"
