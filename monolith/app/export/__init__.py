"""The export use case: checkpoint in, versioned (optionally quantized) export out."""
