"""Mobilise finance package."""
