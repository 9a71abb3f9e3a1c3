"""Checks for the exercises, one module per chapter: `from rnnlab.exercises import ch1`."""
