"""Stage 4, score: normalised metrics, weighted principle scores, the CPTED index, explanations."""
