"""Mobilise emulator package."""
