"""models package (see ../shared/DESIGN.md)."""
