"""Mobilise: runs a large organisation's move to modern management of end-user devices."""

__version__ = "0.1.0"
