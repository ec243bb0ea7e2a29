"""Deployments: one small target interface, a module per target, found like plugins."""
