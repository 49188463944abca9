"""The compiler's passes: expand (spec → graph), infer (shapes, params, MACs)."""
