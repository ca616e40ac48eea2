# The run's record for the report: library versions, device and the resolved config.
import json


rule environment:
    input:
        code=SRC,
    output:
        report(
            "results/{preset}/environment.json",
            caption="../report/environment.rst",
            category="Run",
        ),
    log:
        "logs/{preset}/environment.log",
    conda:
        CONDA_ENV
    params:
        config=lambda w: json.dumps(config, sort_keys=True),
        device=config["device"],
    shell:
        "tridrop environment --device {params.device} --config-json {params.config:q}"
        " --out {output} 2> {log}"
