"""Benchmarks (not tests): `make bench` or `python -m bench`. They print medians and ratios, and the machine."""
