"""Tests of what is made from saved runs (mebench/analysis/)."""
