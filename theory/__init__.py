"""theory: contraction rates, bounds and numerical checks for node-sparse BNNs (see docs/theory.md).

The rates and bounds are being built (issue 5); this package currently holds nothing else.
"""
