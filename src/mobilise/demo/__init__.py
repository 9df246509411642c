"""Mobilise demo package."""
