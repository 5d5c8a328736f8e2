"""Training: the Lightning task, its schedule, atomic checkpoints and the run builder."""
