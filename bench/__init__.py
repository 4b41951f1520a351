"""Benchmarks of the suite against floors measured in the same run (issue 8; see README.md)."""
