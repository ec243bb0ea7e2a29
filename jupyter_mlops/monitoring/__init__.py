"""Monitoring: read collected data, baselines and drift, plotly dashboards."""
