"""Methodology v4: v3's rules on the trade-calendar series (issue 17 point 6)."""
