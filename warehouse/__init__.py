"""callbook warehouse."""
