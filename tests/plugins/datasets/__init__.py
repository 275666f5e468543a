"""Tests of the dataset plugins: readers on fixtures in the official layouts, tasks, declarations."""
