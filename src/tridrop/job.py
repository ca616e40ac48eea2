"""The kinds of a job's path parameters: each is a ``Path``, and its kind says where the job's
rule holds it (:func:`tridrop.pipeline.command` builds the shell command from them).

``In``: a rule input; ``Out``: a rule output; ``Work``: a path outside the declared outputs
(checkpoints, partial caches), a rule param. ``In | None`` is an input the rule may leave out.
"""

from pathlib import Path

In = Path
Out = Path
Work = Path
