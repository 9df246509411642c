"""Mobilise rollout package."""
