# The paper's figures, drawn from the aggregated results (PNG and PDF).


rule figure_mse_vs_width:
    input:
        sweeps="results/{preset}/sweeps.csv",
        code=SRC,
    output:
        png=report(
            "results/{preset}/figures/{experiment}_mse_vs_width.png",
            caption="../report/mse_vs_width.rst",
            category="{experiment}",
            subcategory="Width sweep",
        ),
        pdf="results/{preset}/figures/{experiment}_mse_vs_width.pdf",
    log:
        "logs/{preset}/figures/{experiment}_mse_vs_width.log",
    conda:
        CONDA_ENV
    shell:
        "tridrop plot sweep --input {input.sweeps} --experiment {wildcards.experiment}"
        " --out {output.png} 2> {log}"


rule figure_reconstructions:
    input:
        recon=lambda w: f"results/{w.preset}/runs/{w.experiment}/{w.variant}/seed{ae(w)['seeds'][0]}/reconstructions.npz",
        code=SRC,
    output:
        png=report(
            "results/{preset}/figures/{experiment}_reconstructions_{variant}.png",
            caption="../report/reconstructions.rst",
            category="{experiment}",
            subcategory="Reconstructions",
            labels={"model": "{variant}"},
        ),
        pdf="results/{preset}/figures/{experiment}_reconstructions_{variant}.pdf",
    log:
        "logs/{preset}/figures/{experiment}_reconstructions_{variant}.log",
    conda:
        CONDA_ENV
    params:
        title=lambda w, input: (
            f"{w.experiment}: {w.variant} (seed {ae(w)['seeds'][0]}),"
            " test images reconstructed from the first w latent units"
        ),
    shell:
        "tridrop plot reconstructions --input {input.recon} --title '{params.title}'"
        " --out {output.png} 2> {log}"


rule figure_mask:
    input:
        code=SRC,
    output:
        png=report(
            "results/{preset}/figures/triangular_mask.png",
            caption="../report/triangular_mask.rst",
            category="Method",
        ),
        pdf="results/{preset}/figures/triangular_mask.pdf",
    log:
        "logs/{preset}/figures/triangular_mask.log",
    conda:
        CONDA_ENV
    params:
        batch=lambda w: preset(w)["figures"]["mask_batch"],
        width=lambda w: preset(w)["figures"]["mask_width"],
    shell:
        "tridrop plot mask --batch {params.batch} --width {params.width}"
        " --out {output.png} 2> {log}"


rule figure_features:
    input:
        table="results/{preset}/tables/{experiment}_{kind}.csv",
        code=SRC,
    output:
        png=report(
            "results/{preset}/figures/{experiment}_{kind}.png",
            caption="../report/features.rst",
            category="{experiment}",
            subcategory="Features",
        ),
        pdf="results/{preset}/figures/{experiment}_{kind}.pdf",
    log:
        "logs/{preset}/figures/{experiment}_{kind}.log",
    wildcard_constraints:
        kind="importance|dependence",
    conda:
        CONDA_ENV
    shell:
        "tridrop plot {wildcards.kind} --input {input.table} --out {output.png} 2> {log}"
