"""Networks of the experiments, each a ``SharedWidth`` so that it can be narrowed."""
