"""Mobilise retention package."""
