"""callbook pipeline."""
