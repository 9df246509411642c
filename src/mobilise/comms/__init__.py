"""Mobilise comms package."""
