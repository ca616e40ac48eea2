"""The names of the width distributions TD trains with, written once (the layer, the specs and
the config check read them here, so a figure job does not depend on the layer's code)."""

# triangle: by batch position; random: uniform; nested: geometric; loguniform: more small
# widths; dropout: plain dropout; none: every unit kept (no TD).
MODES = ("triangle", "random", "nested", "loguniform", "dropout", "none")
