"""Export writers for formats other than monolith's own (TensorFlow SavedModel)."""
