"""Mobilise web api package."""
