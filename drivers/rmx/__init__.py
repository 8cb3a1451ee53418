"""Polycom RMX / RealPresence Collaboration Server XML API."""
