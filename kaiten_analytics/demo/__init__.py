"""Demo data: a realistic catalogue, fleet and history for the console and the notebooks."""
