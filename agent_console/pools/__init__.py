"""The data pool pages (seed 001 "Data havuzu"): pools, file imports with column mapping and their reports, the
uploaded files' history and download, and distribution to agents and teams."""
