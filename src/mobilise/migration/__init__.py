"""Mobilise migration package."""
