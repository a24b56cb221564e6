"""Methodology v2: levels an analyst would draw, statements that are true, regimes a chartist
would name. Built beside v1 (``pipeline.analysis``), which stays importable and reproducible."""
