"""Lambda entry points: parse at the edge, call one service built once per cold start."""
