"""Mobilise core package."""
