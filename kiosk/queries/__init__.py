"""What the pages show: the reads views ask for, one module per area (the writes live in the area modules)."""
