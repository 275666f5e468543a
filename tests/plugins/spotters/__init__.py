"""Tests of the spotter plugins: hand-crafted and learned spotters and their video input."""
