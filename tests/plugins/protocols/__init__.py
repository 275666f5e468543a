"""Tests of the protocol plugins."""
