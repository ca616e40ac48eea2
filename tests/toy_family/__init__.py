"""A toy experiment family that lives only in the tests: what docs/extending.md says a new
family takes (this package's four modules and its rule file), registered through the config's
``families:`` list instead of tridrop/registry.py."""

from tridrop.registry import Family

FAMILY = Family(
    name="toy",
    section="toys",
    cli="toy",
    doc="a toy family: counts the images of a stored split",
    rules="tests/toy_family/rules.smk",
    package="toy_family",
    metrics=("count",),
)
