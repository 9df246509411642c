"""Mobilise graph package."""
