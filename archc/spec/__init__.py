"""Reading specs: YAML with positions, the spec model, expressions, the block library."""
