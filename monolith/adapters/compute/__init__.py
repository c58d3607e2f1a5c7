"""Compute backends: the dense tower on PyTorch or TensorFlow."""
