"""Mobilise web pages package."""
