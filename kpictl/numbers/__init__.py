"""Actual values, target periods, evaluation and the scorecard. No printing."""
