"""callbook flows."""
