"""The experiment families, one wing (sub-package) each; :mod:`tridrop.registry` names them.

A wing never imports another; shared code (training loop, files, statistics, tables, figure
style) sits below them in :mod:`tridrop`.
"""
