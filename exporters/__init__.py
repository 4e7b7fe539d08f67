"""exporters package (see ../shared/DESIGN.md)."""
