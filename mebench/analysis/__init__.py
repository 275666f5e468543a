"""What is made from saved runs: configurations, leaderboards, comparisons, plots, reports, scoring of prediction files, tracker export (docs/design.md, layer "analysis")."""
