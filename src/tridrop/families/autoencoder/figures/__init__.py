"""The autoencoder family's figures: one ``plot(...) -> Figure`` each (style in
:mod:`tridrop.figures`)."""
