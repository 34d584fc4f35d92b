"""Rule files: their schema, loading with line numbers, and compilation into indexes."""
