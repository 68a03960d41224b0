"""A team with one pipeline: the platform's stacks must not change with the teams' pipelines."""

from examples.reference import PIPELINES as REFERENCE

PIPELINES = REFERENCE[:1]
