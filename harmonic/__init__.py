"""Companion package for the Harmonic MLP and Harmonic Networks (Ulicny et al., BMVC 2019)."""

__version__ = "0.1.0"
