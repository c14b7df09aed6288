"""The atoma-sdk benchmark suite: ``scripts/bench`` runs it and writes RESULTS.md and a chart."""
