"""Transforms: forward mode, reverse mode, custom rules, and the derived Jacobian tools."""
