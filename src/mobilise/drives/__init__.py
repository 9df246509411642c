"""Mobilise drives package."""
