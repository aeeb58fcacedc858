"""Threadline: a business's shared memory of its customers."""

__version__ = "0.1.0"
