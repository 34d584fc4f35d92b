"""Product-aware lead routing."""
