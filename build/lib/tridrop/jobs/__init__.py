"""Pipeline jobs: one module per experiment family (and for data, results and figures).

Each job is a function ``verb(spec, *, <input and output paths>)``; ``tridrop <family> <verb>``
builds the spec from ``--spec`` JSON and passes the paths. Jobs never read the config file.
"""
