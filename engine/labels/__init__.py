"""Labels that live beside the data, never in it (standard library only)."""
