"""GP capacity model."""
