"""livedrum: an AI drummer that plays live with a band."""

__version__ = "0.1.0"
