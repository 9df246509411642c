"""Mobilise devices package."""
