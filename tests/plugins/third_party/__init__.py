"""The examples of docs/plugins.md, installed as separate packages and run."""
