"""Mobilise cli package."""
