# The toy family's one rule (tests/test_workflow.py plans it through the registry).
TOY = WINGS["toy"]


rule toy_count:
    input:
        data=TOY.data,
        code=PIPE.code(TOY.family, "count"),
    output:
        out=out("runs/{experiment}/toy/count.csv"),
    log:
        logs("toy/{experiment}.log"),
    wildcard_constraints:
        experiment=TOY.pattern,
    conda:
        CONDA_ENV
    params:
        spec=TOY.spec,
    shell:
        PIPE.command(TOY.family, "count")
