"""Mobilise workers package."""
