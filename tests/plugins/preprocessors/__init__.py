"""Tests of the preprocessing-step plugins."""
