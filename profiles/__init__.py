"""Profile schema (pydantic v2), loader, and the shipped site profiles and device models."""

from profiles.loader import LoadedProfile, default_profile_path, load_profile
from profiles.schema import PointConfig, Profile

__all__ = ["LoadedProfile", "PointConfig", "Profile", "default_profile_path", "load_profile"]
