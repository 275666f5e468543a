"""The run path: preprocessing, training, learners, planning, execution and summary of one run or a sweep (docs/design.md, layer "run")."""
