"""Tests of the run path (mebench/run/)."""
