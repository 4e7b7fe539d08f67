"""unity_bridge package (see ../shared/DESIGN.md)."""
