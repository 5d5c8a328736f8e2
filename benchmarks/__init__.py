"""Speed, memory and quality benchmarks; ``python -m benchmarks.run_all`` runs them all."""
