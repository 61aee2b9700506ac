"""The storage layer: the only package that holds SQL."""
