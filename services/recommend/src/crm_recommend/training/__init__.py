"""Training runs: what data a model learns from, the run in a worker process, versions."""
