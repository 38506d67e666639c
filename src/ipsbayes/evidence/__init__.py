"""Borrowing strength from earlier trials: evidence table, meta-analytic-predictive (MAP) priors.

``ipsbayes map-prior CONFIG`` reads a table of published trials, fits a hierarchical model
across them, approximates the predictive distribution for a new trial by a robust mixture
and writes it as a prior set (see :mod:`ipsbayes.evidence.derive`).
"""
