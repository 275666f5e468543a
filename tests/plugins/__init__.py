"""Tests of the built-in plugins (plugins/), by kind."""
