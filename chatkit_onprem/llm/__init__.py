"""Model routing: names agents use → models, and nothing else leaves the process."""
