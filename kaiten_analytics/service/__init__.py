"""Write use-cases. Each public function here owns exactly one transaction."""
