"""HTTP routes and command-line commands of the kb-search service."""
