"""Writers of training summaries (TensorBoard event files)."""
