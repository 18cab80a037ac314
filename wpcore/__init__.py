"""wpcore: the networks, data, training engine and records behind the book
"Weight parameterizations in deep neural networks" (S. Zagoruyko, PhD thesis, 2018)."""
__version__ = "0.1.0"
