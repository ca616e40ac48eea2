"""Triangular Dropout."""
