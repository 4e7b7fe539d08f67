"""flame package (see ../shared/DESIGN.md)."""
