"""Tests of the core (mebench/): its lower layers, the CLI, and promises that cross layers."""
