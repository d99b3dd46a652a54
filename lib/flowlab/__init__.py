"""flowlab: the library behind the normalizing-flows lecture companion."""
__version__ = "0.1.0"
