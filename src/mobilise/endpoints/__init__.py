"""Laptops and their offline copies of the H: drive: the endpoint inventory (from Intune or
Configuration Manager), who has synced since a date, and the cutover's offline-sync gate."""
