"""Methodology v5: v4 with the limited move kept across sessions without a bar."""
