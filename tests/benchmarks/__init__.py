"""Tests of benchmarks/ and of the generated documents: the mutation list, the speed script's smoke run."""
