"""wattbit: plan, simulate and operate renewable-powered, regionally distributed AI datacenters."""

__version__ = "0.1.0"
