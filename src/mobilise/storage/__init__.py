"""Mobilise storage package."""
