"""Configuration: the YAML file -> frozen, validated settings."""
