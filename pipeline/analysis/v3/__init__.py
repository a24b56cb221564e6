"""Methodology v3: one story per call (issue 18). v2's levels and regimes, composed with barriers
that stay near in every regime, probabilities that move only for a named cause, and a thesis
decided from the probabilities, so that no sentence of the note contradicts another."""
