"""Mobilise people package."""
