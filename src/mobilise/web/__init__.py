"""Mobilise web package."""
